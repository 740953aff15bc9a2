using System.Diagnostics;
using System.Reflection;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Storage.CrashWriter;
using Xunit.Abstractions;

namespace Sluice.Storage.Tests;

/// <summary>
/// A child process appends with FlushPolicy.Always and prints each acknowledged offset; the test
/// kills it (SIGKILL) at random moments, reopens the log, and checks every acknowledged record.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 24;
    private static readonly TopicName CrashTopic = new("crash", "test", "events");
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private static string CrashWriterPath => Path.GetFullPath(typeof(CrashTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "CrashWriterPath").Value!);

    [Fact]
    public async Task SigKillDuringAppends_EveryAcknowledgedRecordSurvivesOnceInOrder_AndAppendingContinues()
    {
        Assert.True(File.Exists(CrashWriterPath), $"crash writer not built at {CrashWriterPath}");
        var random = new Random(20260501);
        var acknowledged = new Dictionary<long, (int Run, long Seq)>();
        var totalAcks = 0;
        for (var run = 0; run < Rounds; run++)
        {
            var acks = await RunAndKillAsync(run, random.Next(30, 400));
            totalAcks += acks.Count;
            foreach (var (offset, r, seq) in acks)
            {
                Assert.True(acknowledged.TryAdd(offset, (r, seq)), $"offset {offset} acknowledged twice");
            }

            await VerifyAsync(acknowledged, run);
        }

        output.WriteLine($"{Rounds} kills, {totalAcks} acknowledged records verified");
        Assert.True(totalAcks > Rounds, "the writer should have acknowledged records before being killed");
    }

    private async Task<List<(long Offset, int Run, long Seq)>> RunAndKillAsync(int run, int killAfterMs)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CrashWriterPath);
        start.ArgumentList.Add(_dir.Path);
        start.ArgumentList.Add(run.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var process = Process.Start(start)!;
        var acks = new List<(long, int, long)>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = process.StandardError.ReadToEndAsync();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "ready")
                {
                    ready.TrySetResult();
                    continue;
                }

                // Only whole lines count: a line cut by the kill was never completely acknowledged.
                var parts = line.Split(' ');
                if (parts.Length == 4 && parts[0] == "ack")
                {
                    lock (acks)
                    {
                        acks.Add((long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture),
                            int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture),
                            long.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture)));
                    }
                }
            }
        });

        var started = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (!ready.Task.IsCompleted)
        {
            process.Kill();
            Assert.Fail($"crash writer did not start: {await stderr}");
        }

        await Task.Delay(killAfterMs);
        process.Kill(); // SIGKILL on Linux: no finally blocks, no flush, no dispose
        await process.WaitForExitAsync();
        await reader;
        var err = await stderr;
        Assert.True(string.IsNullOrWhiteSpace(err), $"crash writer wrote to stderr: {err}");
        lock (acks)
        {
            return [.. acks];
        }
    }

    private async Task VerifyAsync(Dictionary<long, (int Run, long Seq)> acknowledged, int run)
    {
        await using var log = await EmbeddedLog.OpenAsync(
            new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 64 * 1024, IndexIntervalBytes = 1024 }, _logs);
        var info = (await log.DescribeTopicAsync(CrashTopic))!.Partitions[0];
        var all = await TestRecords.ReadAllAsync(log, CrashTopic, 0);

        // Dense, in order, once.
        Assert.Equal(info.EndOffset, all.Count);
        for (var i = 0; i < all.Count; i++)
        {
            Assert.Equal(i, all[i].Offset);
        }

        var seen = new HashSet<string>();
        foreach (var record in all)
        {
            Assert.True(seen.Add(record.Text()), $"record at {record.Offset} appears twice: {record.Text()}");
        }

        // Every acknowledged record is present and unmodified.
        foreach (var (offset, (r, seq)) in acknowledged)
        {
            Assert.True(offset < all.Count, $"round {run}: acknowledged offset {offset} lost (log ends at {all.Count})");
            Assert.Equal(CrashPayload.For(r, seq), all[(int)offset].Value!.Value.ToArray());
        }

        // Appending continues at the end.
        var next = await log.AppendAsync(CrashTopic, 0, [new RecordToAppend(null, CrashPayload.For(-1 - run, 0))]);
        Assert.Equal(info.EndOffset, next.BaseOffset);
        acknowledged[next.BaseOffset] = (-1 - run, 0);
    }
}
