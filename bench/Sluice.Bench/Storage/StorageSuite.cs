using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Sluice.Bench.Http;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Storage;
using Sluice.Storage.Format;

namespace Sluice.Bench.Storage;

/// <summary>
/// The embedded log against raw file I/O on the same disk, in one run:
/// batched append vs raw write+fsync of the same chunks; 64 concurrent appenders vs one;
/// single-append latency vs a raw small write+fsync; cold sequential read of 1 GB vs raw read of the
/// same files; reopen after SIGKILL vs reopen after a clean shutdown.
/// </summary>
internal sealed partial class StorageSuite : IBenchSuite
{
    private const int ValueBytes = 100;
    private const int BatchRecords = 1000;
    private static readonly TopicName Topic = new("bench", "storage", "events");
    // Just under 1 GiB: with 128 MiB segments the active segment is then large (more so after the killed
    // appender adds to it), close to the worst case for recovery, which validates the whole active segment.
    private static readonly long BigPartitionBytes = (1L << 30) - (48L << 20);

    public string Name => "storage";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        var md = new StringBuilder();
        md.AppendLine("## Storage: embedded log");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine($"Data directory under `{Path.GetTempPath()}`. Values are {ValueBytes} bytes, no key, no headers.");
        md.AppendLine();
        md.AppendLine("| figure | Sluice | baseline (same run) | ratio | floor | met |");
        md.AppendLine("|---|---|---|---|---|---|");

        // 1. Batched append throughput vs raw write+fsync of the same bytes in the same chunk sizes.
        p.WriteLine("batched append...");
        var (batchMsgs, batchMb, chunkBytes, rawMb, batchRatio) = await BatchedAppendAsync(context.ScratchDirectory);
        Row(md, $"batched append, {BatchRecords} x {ValueBytes} B per append, flush `always`",
            $"{batchMsgs:N0} msg/s, {batchMb:F1} MB/s", $"raw write+fsync of {chunkBytes:N0} B chunks: {rawMb:F1} MB/s",
            batchRatio, ">= 0.7", batchRatio >= 0.7);

        // 2 + 3. One appender awaiting each append (baseline and latency) vs 64 concurrent appenders.
        p.WriteLine("appenders...");
        var (singleRate, concurrentRate, concurrencyRatio, latencies, raw) = await AppendersAsync(context.ScratchDirectory, 64);
        Row(md, "64 concurrent appenders, each awaiting its own append (1 record), `always`",
            $"{concurrentRate:N0} msg/s", $"1 appender awaiting each append: {singleRate:N0} msg/s",
            concurrencyRatio, ">= 20", concurrencyRatio >= 20);
        var p50 = Percentile(latencies, 0.50);
        var p99 = Percentile(latencies, 0.99);
        Row(md, "single appender latency p50, `always`", $"{p50:F3} ms", $"raw {ValueBytes + 50} B write+fsync p50: {Percentile(raw, 0.5):F3} ms",
            p50 / Percentile(raw, 0.5), "(lower is better)", null);
        Row(md, "single appender latency p99, `always`", $"{p99:F3} ms", $"raw write+fsync p99: {Percentile(raw, 0.99):F3} ms",
            p99 / Percentile(raw, 0.99), "(lower is better)", null);

        // 4. Cold sequential read of a 1 GB partition vs raw sequential read of the same files.
        p.WriteLine("filling 1 GB...");
        var bigDir = Path.Combine(context.ScratchDirectory, "big");
        var filled = await FillAsync(bigDir, BigPartitionBytes);
        p.WriteLine("cold read...");
        var (readMsgs, readMb, records) = await ColdReadAsync(bigDir);
        var rawReadMb = RawColdRead(bigDir);
        Row(md, $"sequential read of a {filled / (1 << 20):N0} MiB partition ({records:N0} records) from a cold open",
            $"{readMsgs:N0} msg/s, {readMb:F0} MB/s", $"raw sequential read of the same files: {rawReadMb:F0} MB/s",
            readMb / rawReadMb, ">= 1,000,000 msg/s", readMsgs >= 1_000_000);

        // 5. Reopen after SIGKILL vs reopen after a clean shutdown.
        p.WriteLine("reopen...");
        var clean = await TimeReopenAsync(bigDir);
        var killed = await KillWriterAsync(bigDir);
        var afterKill = await TimeReopenAsync(bigDir);
        var active = new FileInfo(Directory.GetFiles(bigDir, "*.log", SearchOption.AllDirectories).Order().Last()).Length;
        Row(md, $"reopen a {filled / (1 << 20):N0} MiB partition (active segment {active / (1 << 20):N0} MiB) after SIGKILL of an appender ({killed:N0} acks before the kill), open + first read",
            $"{afterKill:F0} ms", $"reopen after a clean shutdown: {clean:F0} ms", afterKill / clean, "(lower is better)", null);

        md.AppendLine();
        md.AppendLine("Notes: cold means the log's files were evicted from the page cache with `posix_fadvise(DONTNEED)` after a clean");
        md.AppendLine("close (the machine's whole cache is not dropped). Recovery validates the whole active segment (default 128 MiB");
        md.AppendLine("segments), so reopen time grows with the active segment, not with the partition. Latencies are per append, measured");
        md.AppendLine(CultureInfo.InvariantCulture, $"by the appender (enqueue to acknowledgement). Append figures alternate with their baselines in {Rounds} short rounds");
        md.AppendLine("and report the median per-round ratio and median throughputs.");
        return md.ToString();
    }

    private static void Row(StringBuilder md, string figure, string sluice, string baseline, double ratio, string floor, bool? met)
        => md.AppendLine(CultureInfo.InvariantCulture,
            $"| {figure} | {sluice} | {baseline} | {ratio:F2} | {floor} | {(met is null ? "-" : met.Value ? "yes" : "**no**")} |");

    private static StorageOptions Options(string dir, FlushPolicy policy = FlushPolicy.Always) => new()
    {
        DataDirectory = dir,
        FlushPolicy = policy,
    };

    private static RecordToAppend[] Records(int count)
    {
        var value = new byte[ValueBytes];
        new Random(1).NextBytes(value);
        return Enumerable.Range(0, count).Select(_ => new RecordToAppend(null, value)).ToArray();
    }

    private static async Task<EmbeddedLog> CreateAsync(string dir, FlushPolicy policy = FlushPolicy.Always)
    {
        var log = await EmbeddedLog.OpenAsync(Options(dir, policy));
        await log.CreateTopicAsync(Topic, new TopicSettings());
        return log;
    }

    private static string SegmentFile(string dir) => Directory.GetFiles(Path.Combine(dir, "topics", "bench", "storage", "events", "0"), "*.log").Order().First();

    // The disk is shared (other work on the machine changes fsync latency from one second to the next),
    // so each figure and its baseline alternate in short rounds and the median per-round ratio is reported.
    private const int Rounds = 7;
    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(700);

    // The first batch's size, from its header. Not the file's length: under flush `always` the active segment keeps
    // zeros written ahead of its data (design note 0032).
    private static long FirstBatchBytes(string segmentFile)
    {
        Span<byte> header = stackalloc byte[RecordBatch.HeaderSize];
        using var handle = File.OpenHandle(segmentFile);
        return RandomAccess.Read(handle, header, 0) == header.Length && RecordBatch.TryReadHeader(header, out var batch)
            ? batch.TotalSize
            : throw new InvalidOperationException($"{segmentFile} holds no whole batch header");
    }

    private static async Task<(double Msgs, double Mb, long ChunkBytes, double RawMb, double Ratio)> BatchedAppendAsync(string scratch)
    {
        var dir = Path.Combine(scratch, "batched");
        var batch = Records(BatchRecords);
        var rawPath = Path.Combine(scratch, "raw-batched.bin");
        var msgs = new List<double>();
        var mbs = new List<double>();
        var rawMbs = new List<double>();
        var ratios = new List<double>();
        long chunk;
        await using (var log = await CreateAsync(dir))
        {
            await log.AppendAsync(Topic, 0, batch); // warm-up, and the size of one encoded batch
            chunk = FirstBatchBytes(SegmentFile(dir));
            var data = new byte[chunk];
            new Random(2).NextBytes(data);
            using var raw = File.OpenHandle(rawPath, FileMode.Create, FileAccess.ReadWrite);
            long rawPosition = 0;
            for (var round = 0; round < Rounds; round++)
            {
                long appends = 0;
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < Round)
                {
                    await log.AppendAsync(Topic, 0, batch);
                    appends++;
                }

                var seconds = sw.Elapsed.TotalSeconds;

                // The baseline: the same bytes, in the same chunk sizes, each chunk written then fsynced.
                sw.Restart();
                for (long i = 0; i < appends; i++)
                {
                    RandomAccess.Write(raw, data, rawPosition);
                    RandomAccess.FlushToDisk(raw);
                    rawPosition += chunk;
                }

                var rawSeconds = sw.Elapsed.TotalSeconds;
                msgs.Add(appends * BatchRecords / seconds);
                mbs.Add(appends * chunk / seconds / 1e6);
                rawMbs.Add(appends * chunk / rawSeconds / 1e6);
                ratios.Add(rawSeconds / seconds);
            }
        }

        File.Delete(rawPath);
        return (Percentiles.Median(msgs), Percentiles.Median(mbs), chunk, Percentiles.Median(rawMbs), Percentiles.Median(ratios));
    }

    private static async Task<(double Single, double Concurrent, double Ratio, List<double> Latencies, List<double> RawLatencies)> AppendersAsync(
        string scratch, int appenders)
    {
        var record = Records(1);
        var latencies = new List<double>();
        var rawLatencies = new List<double>();
        var singles = new List<double>();
        var concurrents = new List<double>();
        var ratios = new List<double>();
        var rawPath = Path.Combine(scratch, "raw-small.bin");
        var data = new byte[ValueBytes + 50];
        await using var log = await CreateAsync(Path.Combine(scratch, "appenders"));
        await log.AppendAsync(Topic, 0, record);
        using (var raw = File.OpenHandle(rawPath, FileMode.Create, FileAccess.ReadWrite))
        {
            long rawPosition = 0;
            for (var round = 0; round < Rounds; round++)
            {
                // Baseline: one appender awaiting each append (also the latency sample).
                var count = 0;
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < Round)
                {
                    var t = Stopwatch.GetTimestamp();
                    await log.AppendAsync(Topic, 0, record);
                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                    count++;
                }

                var single = count / sw.Elapsed.TotalSeconds;

                long total = 0;
                sw.Restart();
                await Task.WhenAll(Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
                {
                    long mine = 0;
                    while (sw.Elapsed < Round)
                    {
                        await log.AppendAsync(Topic, 0, record);
                        mine++;
                    }

                    Interlocked.Add(ref total, mine);
                })));
                var concurrent = total / sw.Elapsed.TotalSeconds;

                // Latency baseline: a raw write of about one encoded record, then fsync.
                sw.Restart();
                while (sw.Elapsed < Round / 2)
                {
                    var t = Stopwatch.GetTimestamp();
                    RandomAccess.Write(raw, data, rawPosition);
                    RandomAccess.FlushToDisk(raw);
                    rawLatencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                    rawPosition += data.Length;
                }

                singles.Add(single);
                concurrents.Add(concurrent);
                ratios.Add(concurrent / single);
            }
        }

        File.Delete(rawPath);
        return (Percentiles.Median(singles), Percentiles.Median(concurrents), Percentiles.Median(ratios), latencies, rawLatencies);
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    // Fills one partition to about `bytes` with batched appends (flush `never`: the figure is the read).
    private static async Task<long> FillAsync(string dir, long bytes)
    {
        var batch = Records(BatchRecords);
        await using var log = await CreateAsync(dir, FlushPolicy.Never);
        var pending = new List<Task>();
        while (true)
        {
            for (var i = 0; i < 64; i++)
            {
                pending.Add(log.AppendAsync(Topic, 0, batch).AsTask());
            }

            await Task.WhenAll(pending);
            pending.Clear();
            var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
            if (info.Bytes >= bytes)
            {
                return info.Bytes;
            }
        }
    }

    private static async Task<(double Msgs, double Mb, long Records)> ColdReadAsync(string dir)
    {
        Evict(dir);
        var sw = Stopwatch.StartNew();
        long records = 0, bytes = 0;
        await using (var log = await EmbeddedLog.OpenAsync(Options(dir)))
        {
            var offset = 0L;
            while (true)
            {
                var r = await log.ReadAsync(Topic, 0, offset, 100_000, 1 << 20);
                records += r.Records.Count;
                foreach (var record in r.Records)
                {
                    bytes += record.Value!.Value.Length;
                }

                if (r.NextOffset >= r.EndOffset)
                {
                    break;
                }

                offset = r.NextOffset;
            }
        }

        var seconds = sw.Elapsed.TotalSeconds;
        var fileBytes = Directory.GetFiles(dir, "*.log", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        return (records / seconds, fileBytes / seconds / 1e6, records);
    }

    private static double RawColdRead(string dir)
    {
        Evict(dir);
        var buffer = new byte[1 << 20];
        long total = 0;
        var sw = Stopwatch.StartNew();
        foreach (var file in Directory.GetFiles(dir, "*.log", SearchOption.AllDirectories).Order())
        {
            using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read);
            long position = 0;
            int n;
            while ((n = RandomAccess.Read(handle, buffer, position)) > 0)
            {
                position += n;
                total += n;
            }
        }

        return total / sw.Elapsed.TotalSeconds / 1e6;
    }

    private static void Evict(string dir)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
        {
            using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read);
            _ = PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, 4 /* POSIX_FADV_DONTNEED */);
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);

    private static async Task<double> TimeReopenAsync(string dir)
    {
        var sw = Stopwatch.StartNew();
        await using var log = await EmbeddedLog.OpenAsync(Options(dir));
        var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        var first = await log.ReadAsync(Topic, 0, info.StartOffset, 1, 1);
        var elapsed = sw.Elapsed.TotalMilliseconds;
        if (first.Records.Count != 1)
        {
            throw new InvalidOperationException("reopened log returned no record");
        }

        return elapsed;
    }

    // Starts this program as an appender on the big partition, lets it acknowledge for a second, SIGKILLs it.
    private static async Task<long> KillWriterAsync(string dir)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(StorageSuite).Assembly.Location);
        }

        start.ArgumentList.Add("--child-append");
        start.ArgumentList.Add(dir);
        using var process = Process.Start(start)!;
        long acks = 0;
        var ready = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "ready")
                {
                    ready.TrySetResult();
                }
                else
                {
                    Interlocked.Increment(ref acks);
                }
            }
        });
        await ready.Task.WaitAsync(TimeSpan.FromMinutes(2));

        // A second of appends, or fewer: at most ~22 MiB (10 records an ack), so that the active segment the fill left
        // (~85 MiB) stays the one recovery validates instead of rolling into a new, small one.
        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
        while (Interlocked.Read(ref acks) < 20_000 && Stopwatch.GetTimestamp() < until)
        {
            await Task.Delay(10);
        }

        process.Kill();
        await process.WaitForExitAsync();
        await reader;
        return acks;
    }

    /// <summary>Child mode: <c>--child-append DIR</c> appends with flush `always` from 16 tasks until killed.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        if (args is not ["--child-append", var dir])
        {
            Console.Error.WriteLine("usage: --child-append DIR");
            return 2;
        }

        await using var log = await EmbeddedLog.OpenAsync(Options(dir));
        var stdout = Console.Out;
        stdout.WriteLine("ready");
        var batch = Records(10);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var r = await log.AppendAsync(Topic, 0, batch);
                lock (stdout)
                {
                    stdout.WriteLine(r.BaseOffset.ToString(CultureInfo.InvariantCulture));
                }
            }
        })));
        return 0;
    }
}
