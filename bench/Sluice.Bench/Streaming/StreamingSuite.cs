using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Sluice.Bench.Http;

namespace Sluice.Bench.Streaming;

/// <summary>
/// The server's streaming against plainer paths of the same server, in one run, over loopback against the real
/// server process: resident memory of idle SSE connections vs idle keep-alive HTTP connections; SSE fan-out latency
/// to many subscribers vs to one; WebSocket consume (permits 1,000) vs long-poll pull + POST acks, 4 consumers on one
/// shared subscription each, in throughput and in server CPU per message.
/// </summary>
internal sealed class StreamingSuite : IBenchSuite
{
    private const int ValueBytes = 100;

    public string Name => "streaming";

    // BENCH_STREAMING=idle,fanout,consume measures only those groups of figures (all when unset), for working on one path.
    private static readonly string[]? Only = Environment.GetEnvironmentVariable("BENCH_STREAMING") is { Length: > 0 } only
        ? only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        : null;

    private static bool Measures(string group) => Only is null || Only.Contains(group, StringComparer.Ordinal);

    // Not SLUICE_*: the server, a child of this process, would take those for its own options and refuse them.
    private static int Setting(string name, int fallback)
        => int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        var connections = Setting("SLUICEBENCH_SSE_CONNECTIONS", 10_000);
        var subscribers = Setting("SLUICEBENCH_FANOUT_SUBSCRIBERS", 1_000);
        var rate = Setting("SLUICEBENCH_FANOUT_RATE", 1_000);
        var seconds = Setting("SLUICEBENCH_FANOUT_SECONDS", 5);
        var wsMessages = Setting("SLUICEBENCH_WS_MESSAGES", 200_000);

        var md = new StringBuilder();
        md.AppendLine("## Streaming: SSE and WebSocket");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine("The real server process over loopback, embedded log with flush `always`; the bench client runs on the same cores.");
        md.AppendLine();
        md.AppendLine("| figure | Sluice | baseline (same run) | ratio | target | met |");
        md.AppendLine("|---|---|---|---|---|---|");

        if (Measures("idle"))
        {
            p.WriteLine($"idle memory: {connections:N0} keep-alive connections (baseline)...");
            var keepAlive = await IdleMemoryAsync(context.ScratchDirectory, connections, 0, p);
            var subscriptions = Setting("SLUICEBENCH_SSE_SUBSCRIPTIONS", 100);
            p.WriteLine($"idle memory: {connections:N0} SSE connections on {subscriptions} subscriptions...");
            var sseMemory = await IdleMemoryAsync(context.ScratchDirectory, connections, subscriptions, p);
            Row(md, $"resident memory per idle SSE connection, {connections:N0} open on {subscriptions} shared subscriptions", $"{sseMemory / 1024:F1} KiB",
                $"per idle keep-alive HTTP connection: {keepAlive / 1024:F1} KiB", sseMemory / keepAlive, "< 50 KiB per connection", sseMemory < 50 * 1024);
            p.WriteLine($"idle memory: {connections:N0} SSE connections on 1 subscription...");
            var oneSubscription = await IdleMemoryAsync(context.ScratchDirectory, connections, 1, p);
            Row(md, $"same, all {connections:N0} on one shared subscription", $"{oneSubscription / 1024:F1} KiB",
                $"per idle keep-alive HTTP connection: {keepAlive / 1024:F1} KiB", oneSubscription / keepAlive, "< 50 KiB per connection", oneSubscription < 50 * 1024);
        }

        string? fanOutRounds = null;
        string? readerRounds = null;
        if (Measures("fanout"))
        {
            p.WriteLine("fan-out to 1 subscriber (baseline)...");
            var one = await FanOutAsync(context.ScratchDirectory, 1, rate, seconds, p);

            // Sluice and the bare server in turn, to subscriptions then to readers, FanOutRounds times: one run's tail moves
            // with whatever else the machine does in its seconds, so the table gives medians (note 0043).
            var sluiceRuns = new List<FanOutRun>();
            var bareRuns = new List<FanOutRun>();
            var readerRuns = new List<FanOutRun>();
            var bareReaderRuns = new List<FanOutRun>();
            for (var round = 1; round <= FanOutRounds; round++)
            {
                p.WriteLine($"fan-out to {subscribers:N0} subscribers, round {round} of {FanOutRounds}...");
                sluiceRuns.Add(await FanOutAsync(context.ScratchDirectory, subscribers, rate, seconds, p));
                p.WriteLine($"fan-out to {subscribers:N0} subscribers of the bare fan-out server, round {round} of {FanOutRounds}...");
                bareRuns.Add(await FanOutAsync(context.ScratchDirectory, subscribers, rate, seconds, p, bare: true));
                p.WriteLine($"fan-out to {subscribers:N0} readers, round {round} of {FanOutRounds}...");
                readerRuns.Add(await FanOutAsync(context.ScratchDirectory, subscribers, rate, seconds, p, readers: true));
                p.WriteLine($"fan-out to {subscribers:N0} readers of the bare fan-out server, round {round} of {FanOutRounds}...");
                bareReaderRuns.Add(await FanOutAsync(context.ScratchDirectory, subscribers, rate, seconds, p, bare: true, readers: true));
            }

            var expected = (long)rate * seconds * subscribers;
            var (sluice, bare, reader, bareReader) = (Medians(sluiceRuns), Medians(bareRuns), Medians(readerRuns), Medians(bareReaderRuns));
            var of = FanOutRounds == 1 ? "" : $"median of {FanOutRounds} rounds, ";
            var cpuOf = FanOutRounds == 1 ? "" : $" (median of {FanOutRounds} rounds)";
            Row(md, $"SSE fan-out, {rate:N0} msg/s for {seconds} s to {subscribers:N0} subscribers (one subscription each), produce-to-receive p50 ({of}1 subscriber: 1 run)",
                $"{sluice.P50:F1} ms", $"to 1 subscriber: {one.P50:F1} ms", sluice.P50 / one.P50, "-", null);
            Row(md, $"same, p99 (fewest events received in a round: {sluice.Received:N0} of {expected:N0})",
                $"{sluice.P99:F1} ms", $"to 1 subscriber: {one.P99:F1} ms", sluice.P99 / one.P99, "p99 < 100 ms", sluice.P99 < 100 && sluice.Received == expected);
            Row(md, $"same, {subscribers:N0} subscribers, against the bare fan-out server run in turn with it: p50; p99 ({of}fewest events received from the bare server in a round: {bare.Received:N0} of {expected:N0})",
                $"{sluice.P50:F1} ms; {sluice.P99:F1} ms", $"bare: {bare.P50:F1} ms; {bare.P99:F1} ms", sluice.P99 / bare.P99, "p99 <= 30 ms (issue 17)",
                sluice.P99 <= 30 && sluice.Received == expected && bare.Received == expected);
            Row(md, $"same: server CPU per event delivered{cpuOf}; ratio = bare / Sluice",
                $"{sluice.CpuMicros:F2} us", $"bare: {bare.CpuMicros:F2} us", bare.CpuMicros / sluice.CpuMicros, "-", null);
            Row(md, $"SSE fan-out to {subscribers:N0} readers (no subscription: `GET .../messages`, `Accept: text/event-stream`), against the bare server sending readers' events, run in turn: p50; p99 ({of}fewest events received in a round, Sluice: {reader.Received:N0}, bare: {bareReader.Received:N0}, of {expected:N0})",
                $"{reader.P50:F1} ms; {reader.P99:F1} ms", $"bare: {bareReader.P50:F1} ms; {bareReader.P99:F1} ms", reader.P99 / bareReader.P99, "p99 <= 30 ms (issue 17)",
                reader.P99 <= 30 && reader.Received == expected && bareReader.Received == expected);
            Row(md, $"same, readers: server CPU per event delivered{cpuOf}; ratio = bare / Sluice",
                $"{reader.CpuMicros:F2} us", $"bare: {bareReader.CpuMicros:F2} us", bareReader.CpuMicros / reader.CpuMicros, "-", null);
            fanOutRounds = PerRound(sluiceRuns, bareRuns);
            readerRounds = PerRound(readerRuns, bareReaderRuns);
        }

        if (!Measures("consume"))
        {
            return md.ToString();
        }

        p.WriteLine($"WebSocket consume of {wsMessages:N0} messages...");
        var loadBefore = BenchmarksFile.LoadAverage();
        var (ws, pull, rounds) = await ConsumeThroughputAsync(context.ScratchDirectory, wsMessages, p);
        Row(md, $"WebSocket consume, {Consumers} connections on one shared subscription, permits 1,000, acks on the socket, {wsMessages:N0} x {ValueBytes} B",
            $"{ws.Rate:N0} msg/s", $"long-poll pull max=1000 + POST acks, {Consumers} consumers: {pull.Rate:N0} msg/s", ws.Rate / pull.Rate, ">= 100,000 msg/s", ws.Rate >= 100_000);
        Row(md, "same, WebSocket: server CPU per message (user + system over the run); ratio = pull / WebSocket",
            $"{ws.CpuMicros:F2} us", $"pull + ack: {pull.CpuMicros:F2} us", pull.CpuMicros / ws.CpuMicros, "<= 2.0 us (issue 17)", ws.CpuMicros <= 2.0);
        Row(md, $"pull + ack, {Consumers} consumers on one shared subscription: server CPU per message; ratio = WebSocket / pull",
            $"{pull.CpuMicros:F2} us", $"WebSocket: {ws.CpuMicros:F2} us", ws.CpuMicros / pull.CpuMicros, "<= 1.5 us (issue 17)", pull.CpuMicros <= 1.5);
        var loadAfter = BenchmarksFile.LoadAverage();

        md.AppendLine();
        md.AppendLine("Notes: memory is the server's `VmRSS` after the connections are open and idle minus before, divided by their");
        md.AppendLine("number (fresh server per figure). Latency is the event's receive time minus its `publishTime` (the append's");
        md.AppendLine("timestamp; same clock), measured after a warm-up at the same rate (`SLUICEBENCH_FANOUT_WARMUP_SECONDS`, " + DefaultWarmupSeconds.ToString(CultureInfo.InvariantCulture) + " s by default, long enough for a fresh server's JIT to finish tiering its hot paths; " + WarmupSeconds.ToString(CultureInfo.InvariantCulture) + " s in this run). Subscribers use `ack=auto`; the client decodes the chunked framing. The bench client parses every event on the same two cores");
        md.AppendLine("as the server, so fan-out figures on a small machine measure the machine as much as the server. Scale is set by");
        md.AppendLine("`SLUICEBENCH_SSE_CONNECTIONS`, `SLUICEBENCH_FANOUT_SUBSCRIBERS`, `SLUICEBENCH_FANOUT_RATE`, `SLUICEBENCH_FANOUT_SECONDS`,");
        md.AppendLine("`SLUICEBENCH_WS_MESSAGES`, `SLUICEBENCH_SSE_SUBSCRIPTIONS` (defaults: the issue's 10,000 / 1,000 / 1,000 / 5 / 200,000; 100).");
        md.AppendLine("The fan-out client parses each event's `publishTime` with `Utf8JsonReader` (allocation-free), not a string parse.");
        md.AppendLine("The bare fan-out server (a child process of the bench, plain Kestrel) answers the same requests with the least an SSE broadcaster does: it stamps each");
        md.AppendLine("posted message's `publishTime`, encodes its event once, and each stream writes every batch it has not written and flushes once per wake; no log,");
        md.AppendLine("sync, subscription, lease or ack (design note 0037). Its figures are what the same client and machine give with Sluice's own work taken away.");
        md.AppendLine("It keeps Kestrel's default scheduling (sends queued to the thread pool), the issue's \"bare Kestrel\"; Sluice's HTTP port sends inline");
        md.AppendLine("(`inlineIo`, on by default: design note 0047).");
        if (fanOutRounds is not null)
        {
            md.AppendLine($"The {subscribers:N0}-subscriber fan-out runs Sluice then the bare server, {FanOutRounds} times in turn (`SLUICEBENCH_FANOUT_ROUNDS`), each on a fresh server; the table");
            md.AppendLine($"gives each figure's median over the rounds. Per round, p99 and server CPU per event, Sluice / bare: {fanOutRounds}.");
            md.AppendLine("Each round then runs the same fan-out to readers: streams of `GET .../messages?partition=0` with `Accept: text/event-stream`, which follow the");
            md.AppendLine("partition's tail with no subscription (no lease, ack or cursor; a reconnect resumes with `Last-Event-ID`), what a live view for many");
            md.AppendLine("browsers needs; then the bare server sending events of a reader's shape (no ack id, consumer id or attempt, as Sluice's). Per round, p99 and");
            md.AppendLine($"server CPU per event, Sluice's readers / bare: {readerRounds}.");
        }

        md.AppendLine(ConsumeKeys > 0
            ? $"The consumed messages carry {ConsumeKeys:N0} distinct keys, in turn (`SLUICEBENCH_CONSUME_KEYS`; 0, keyless, by default)."
            : "The consumed messages are keyless (`SLUICEBENCH_CONSUME_KEYS` gives them that many distinct keys).");
        md.AppendLine("Consume: the topic (1 partition) is filled first; after unmeasured warm-up drains of both paths for at least `SLUICEBENCH_CONSUME_WARMUP_SECONDS` (30) so the JIT has optimised the hot paths, pull then WebSocket each drain their own shared subscription with " + Consumers.ToString(CultureInfo.InvariantCulture) + " concurrent consumers,");
        md.AppendLine($"{ConsumeRounds} times in turn; the table gives each path's median drain (a drain of 200,000 messages lasts about a second, so one drain alone moves with whatever else the machine does in that second).");
        md.AppendLine("(pull: `max=1000&waitMs=200`, each answer acked by POST before the next pull; WebSocket: acks of 500 ids sent on the socket). Server CPU is the");
        md.AppendLine("user + system time of the server process over each drain (from `/proc/PID/stat`) divided by the messages delivered; it does not move when other");
        md.AppendLine($"work takes the cores, as throughput does. Per round, pull / WebSocket: {rounds}. Load average (1 min) before the consume runs: {loadBefore}; after: {loadAfter}. Design note 0017 has the profiles.");
        return md.ToString();
    }

    // ---- idle memory

    /// <summary>Server memory per idle connection: SSE spread over <paramref name="subscriptions"/>, or (0) keep-alive <c>/healthz</c>.</summary>
    private static async Task<double> IdleMemoryAsync(string scratch, int count, int subscriptions, TextWriter progress)
    {
        var sse = subscriptions > 0;
        await using var server = await BenchServer.StartAsync(scratch, ["--max-streams", "100000", "--max-streams-per-subscription", "100000"]);
        if (sse)
        {
            await server.PutAsync("/v1/topics/bench/stream/idle", """{"partitions":1}""");
            for (var i = 0; i < subscriptions; i++)
            {
                await server.PutAsync($"/v1/topics/bench/stream/idle/subscriptions/s{i}", """{"type":"shared"}""");
            }
        }

        // Kestrel allows 10,000 connections: none of ours may stay open.
        server.Client.Dispose();
        await Task.Delay(1000);
        var before = server.ResidentBytes();
        var sockets = new List<Socket>(count);
        try
        {
            for (var i = 0; i < count; i += 200)
            {
                var batch = Enumerable.Range(i, Math.Min(200, count - i)).Select(async index =>
                {
                    var path = sse ? $"/v1/topics/bench/stream/idle/subscriptions/s{index % subscriptions}/events" : "/healthz";
                    var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(IPAddress.Loopback, server.Port);
                    await socket.SendAsync(request);
                    var buffer = new byte[1024];
                    var n = await socket.ReceiveAsync(buffer);
                    if (n == 0 || !Encoding.ASCII.GetString(buffer, 0, n).StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException($"connection refused or failed: {Encoding.ASCII.GetString(buffer, 0, n)}");
                    }

                    return socket;
                });
                sockets.AddRange(await Task.WhenAll(batch));
            }

            progress.WriteLine($"  {sockets.Count:N0} open; settling");
            await Task.Delay(3000);
            var after = server.ResidentBytes();
            return (double)(after - before) / count;
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
    }

    // ---- fan-out

    private sealed record FanOutRun(double P50, double P99, long Received, double CpuMicros);

    // Rounds of the many-subscriber fan-out, Sluice and the bare server in turn (to subscriptions, then to readers); the
    // table gives the medians.
    private static readonly int FanOutRounds = Math.Max(1, Setting("SLUICEBENCH_FANOUT_ROUNDS", 3));

    // Each figure's median over the rounds; the fewest events any round received.
    private static FanOutRun Medians(List<FanOutRun> runs) => new(
        Percentiles.Median(runs.Select(r => r.P50)), Percentiles.Median(runs.Select(r => r.P99)), runs.Min(r => r.Received), Percentiles.Median(runs.Select(r => r.CpuMicros)));

    // Per round, Sluice's p99 and CPU per event beside the bare server's.
    private static string PerRound(List<FanOutRun> sluice, List<FanOutRun> bare) => string.Join("; ", sluice.Zip(bare, (s, b) =>
        string.Create(CultureInfo.InvariantCulture, $"{s.P99:F1} / {b.P99:F1} ms, {s.CpuMicros:F2} / {b.CpuMicros:F2} us")));

    private static async Task<FanOutRun> FanOutAsync(
        string scratch, int subscribers, int rate, int seconds, TextWriter progress, bool bare = false, bool readers = false)
    {
        await using var server = bare ? await BenchServer.StartBareFanOutAsync(readers) : await BenchServer.StartAsync(scratch, ["--max-streams", "100000"]);
        const string Topic = "/v1/topics/bench/stream/fanout";
        await server.PutAsync(Topic, """{"partitions":1}""");
        var latencies = new List<double>[subscribers];
        var sockets = new List<Socket>(subscribers);
        var readLoops = new List<Task>(subscribers);
        using var stop = new CancellationTokenSource();
        for (var i = 0; i < subscribers; i++)
        {
            // A reader follows the partition's tail from its start (the topic is empty) with no subscription.
            var request = readers
                ? $"GET {Topic}/messages?partition=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                : $"GET {Topic}/subscriptions/s{i}/events?ack=auto HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            if (!readers)
            {
                await server.PutAsync($"{Topic}/subscriptions/s{i}", """{"type":"exclusive","position":"latest"}""");
            }

            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, server.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes(request));
            sockets.Add(socket);
            var list = latencies[i] = new List<double>(rate * seconds);
            readLoops.Add(ReadEventsAsync(socket, list, stop.Token));
        }

        await Task.Delay(1000);
        var value = new string('x', ValueBytes);

        // Warm-up at the same rate (the server's JIT compiles its hot paths in the first ten seconds or so), then the measured run.
        progress.WriteLine($"  {subscribers:N0} {(readers ? "readers" : "subscribed")}; warming up for {WarmupSeconds} s");
        await ProduceAtRateAsync(server, Topic, value, rate, rate * WarmupSeconds);
        await WaitForAsync(latencies, (long)rate * WarmupSeconds * subscribers, TimeSpan.FromSeconds(30));
        foreach (var l in latencies)
        {
            lock (l)
            {
                l.Clear();
            }
        }

        progress.WriteLine("  producing");
        var serverCpu = server.CpuTime();
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var total = rate * seconds;
        await ProduceAtRateAsync(server, Topic, value, rate, total);
        await WaitForAsync(latencies, (long)total * subscribers, TimeSpan.FromSeconds(30));

        serverCpu = server.CpuTime() - serverCpu;
        clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu;
        var events = latencies.Sum(l => { lock (l) { return (long)l.Count; } });
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {events:N0} events; server CPU {serverCpu.TotalSeconds:F2} s ({serverCpu.TotalMicroseconds / Math.Max(1, events):F2} us/event), client CPU {clientCpu.TotalSeconds:F2} s"));
        await stop.CancelAsync();
        foreach (var s in sockets)
        {
            s.Dispose();
        }

        await Task.WhenAll(readLoops.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
        var all = new List<double>();
        foreach (var l in latencies)
        {
            lock (l)
            {
                all.AddRange(l);
            }
        }

        all.Sort();
        var cpuMicros = serverCpu.TotalMicroseconds / Math.Max(1, events);
        return all.Count == 0 ? new FanOutRun(double.NaN, double.NaN, 0, cpuMicros) : new FanOutRun(Percentile(all, 0.5), Percentile(all, 0.99), all.Count, cpuMicros);
    }

    // Long enough for the JIT's tiering (instrumented code, then optimized) to finish on the hot paths of a fresh server:
    // a reader run's server, which serves nothing before its streams open, was still compiling after 5 s (note 0046).
    private const int DefaultWarmupSeconds = 15;
    private static readonly int WarmupSeconds = Setting("SLUICEBENCH_FANOUT_WARMUP_SECONDS", DefaultWarmupSeconds);
    private static readonly int ConsumeWarmupSeconds = Setting("SLUICEBENCH_CONSUME_WARMUP_SECONDS", 30);

    // Distinct keys of the consumed messages, given round-robin; 0 (the default): keyless, as the issue's figures are.
    private static readonly int ConsumeKeys = Setting("SLUICEBENCH_CONSUME_KEYS", 0);

    private static readonly JsonSerializerOptions OmitNulls = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    // One message every 1/rate s, in ticks of 10 ms (a batch of the messages due by then).
    private static async Task ProduceAtRateAsync(BenchServer server, string topic, string value, int rate, int total)
    {
        var sent = 0;
        var started = Stopwatch.StartNew();
        var produces = new List<Task>();
        while (sent < total)
        {
            var due = (int)Math.Min(total, started.Elapsed.TotalSeconds * rate);
            var n = due - sent;
            if (n > 0)
            {
                var body = JsonSerializer.Serialize(new { messages = Enumerable.Range(0, n).Select(_ => new { value }).ToArray() });
                produces.Add(server.PostAsync($"{topic}/batch", body));
                sent = due;
            }

            await Task.Delay(10);
        }

        await Task.WhenAll(produces);
    }

    private static async Task WaitForAsync(List<double>[] latencies, long events, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (latencies.Sum(l => { lock (l) { return (long)l.Count; } }) < events && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }

    private static async Task ReadEventsAsync(Socket socket, List<double> latencies, CancellationToken cancellationToken)
    {
        // The marker ends with the opening quote of the value: the value is parsed as the JSON string it is, by the
        // allocation-free ISO 8601 parser of Utf8JsonReader (a culture-aware DateTimeOffset.TryParse of a new string per
        // event cost the client, which shares the server's cores, more than the server's write of that event).
        var marker = "\"publishTime\":\""u8.ToArray();
        var raw = new byte[64 * 1024];
        var buffer = new byte[128 * 1024];
        var carry = 0;
        var chunks = new ChunkedDecoder();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var received = await socket.ReceiveAsync(raw, cancellationToken);
                if (received == 0)
                {
                    return;
                }

                var now = DateTimeOffset.UtcNow;

                // The response is chunked (HTTP/1.1): take the framing out before reading events.
                var n = chunks.Decode(raw.AsSpan(0, received), buffer.AsSpan(carry));
                var span = buffer.AsSpan(0, carry + n);
                var lastNewline = span.LastIndexOf((byte)'\n');
                var complete = lastNewline < 0 ? [] : span[..(lastNewline + 1)];
                while (true)
                {
                    var at = complete.IndexOf(marker);
                    if (at < 0)
                    {
                        break;
                    }

                    complete = complete[(at + marker.Length - 1)..];
                    var end = complete[1..].IndexOf((byte)'"') + 1;
                    if (TryParseJsonTime(complete[..(end + 1)], out var published))
                    {
                        lock (latencies)
                        {
                            latencies.Add((now - published).TotalMilliseconds);
                        }
                    }

                    complete = complete[(end + 1)..];
                }

                // Keep an unfinished line for the next read.
                var rest = span[(lastNewline + 1)..];
                rest.CopyTo(buffer);
                carry = rest.Length;
                if (carry > buffer.Length - raw.Length)
                {
                    carry = 0;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>
    /// Strips HTTP/1.1 chunked framing (<c>{hex size}\r\n{bytes}\r\n</c>) from a response body read after its headers;
    /// the headers themselves pass through as the first "chunk" until the blank line that ends them.
    /// </summary>
    private sealed class ChunkedDecoder
    {
        private bool _inHeaders = true;
        private int _newlines;
        private long _remaining;
        private bool _inSize;
        private long _size;
        private int _skipCrLf;

        public int Decode(ReadOnlySpan<byte> input, Span<byte> output)
        {
            var o = 0;
            for (var i = 0; i < input.Length; i++)
            {
                var b = input[i];
                if (_inHeaders)
                {
                    // \r\n\r\n ends the headers; they are not events, so they are dropped.
                    _newlines = b == (byte)'\n' ? _newlines + 1 : b == (byte)'\r' ? _newlines : 0;
                    if (_newlines == 2)
                    {
                        _inHeaders = false;
                        _inSize = true;
                    }

                    continue;
                }

                if (_remaining > 0)
                {
                    var take = (int)Math.Min(_remaining, input.Length - i);
                    input.Slice(i, take).CopyTo(output[o..]);
                    o += take;
                    i += take - 1;
                    _remaining -= take;
                    if (_remaining == 0)
                    {
                        _skipCrLf = 2;
                    }

                    continue;
                }

                if (_skipCrLf > 0)
                {
                    _skipCrLf--;
                    if (_skipCrLf == 0)
                    {
                        _inSize = true;
                        _size = 0;
                    }

                    continue;
                }

                if (_inSize)
                {
                    if (b == (byte)'\n')
                    {
                        _inSize = false;
                        _remaining = _size;
                        if (_size == 0)
                        {
                            _skipCrLf = 2;
                        }
                    }
                    else if (Uri.IsHexDigit((char)b))
                    {
                        _size = (_size * 16) + HexValue(b);
                    }
                }
            }

            return o;
        }

        private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
    }

    private static bool TryParseJsonTime(ReadOnlySpan<byte> quoted, out DateTimeOffset value)
    {
        var reader = new Utf8JsonReader(quoted);
        value = default;
        return reader.Read() && reader.TryGetDateTimeOffset(out value);
    }

    // ---- WebSocket consume throughput

    // Consumers per consume run: as many as the issue's pull and WebSocket figures name.
    private const int Consumers = 4;

    private readonly record struct Drain(double Rate, double CpuMicros);

    // Measured drains of each path, alternating; the median is reported.
    private const int ConsumeRounds = 5;

    private static async Task<(Drain WebSocket, Drain Pull, string Rounds)> ConsumeThroughputAsync(string scratch, int count, TextWriter progress)
    {
        await using var server = await BenchServer.StartAsync(scratch, []);
        const string Topic = "/v1/topics/bench/stream/consume";
        await server.PutAsync(Topic, """{"partitions":1}""");

        var value = new string('x', ValueBytes);
        for (var i = 0; i < count; i += 10_000)
        {
            // Keyless, the key is left out (not null): the body is the same bytes as before keys could be asked for.
            var messages = Enumerable.Range(i, Math.Min(10_000, count - i))
                .Select(n => new { key = ConsumeKeys > 0 ? "key-" + (n % ConsumeKeys).ToString(CultureInfo.InvariantCulture) : null, value });
            var body = JsonSerializer.Serialize(new { messages = messages.ToArray() }, OmitNulls);
            await server.PostAsync($"{Topic}/batch", body);
        }

        // Drains of each path, not measured, for at least ConsumeWarmupSeconds: the server's JIT compiles its hot paths
        // in tiers (quick code, then instrumented code, then optimised code) over the first seconds of load. A drain
        // of 200,000 messages lasts about a second, and after a single warm-up drain a perf profile of the measured
        // drains still showed the tiering compiler's thread at 28% of the server's samples and the consume path in
        // quick and instrumented code (design note 0025).
        var warm = Stopwatch.StartNew();
        for (var round = 0; round == 0 || warm.Elapsed.TotalSeconds < ConsumeWarmupSeconds; round++)
        {
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  warm-up drains, round {round + 1}..."));
            foreach (var name in new[] { $"pull-warmup-{round}", $"ws-warmup-{round}" })
            {
                await server.PutAsync($"{Topic}/subscriptions/{name}", """{"type":"shared","position":"earliest"}""");
            }

            await PullAllAsync(server, $"{Topic}/subscriptions/pull-warmup-{round}", count);
            await WebSocketAllAsync(server, $"{Topic}/subscriptions/ws-warmup-{round}/ws?permits=1000", count);
        }

        var pulls = new List<Drain>();
        var sockets = new List<Drain>();
        for (var round = 0; round < ConsumeRounds; round++)
        {
            foreach (var name in new[] { $"pull-{round}", $"ws-{round}" })
            {
                await server.PutAsync($"{Topic}/subscriptions/{name}", """{"type":"shared","position":"earliest"}""");
            }

            var pull = await MeasureAsync(server, count, () => PullAllAsync(server, $"{Topic}/subscriptions/pull-{round}", count));
            var ws = await MeasureAsync(server, count, () => WebSocketAllAsync(server, $"{Topic}/subscriptions/ws-{round}/ws?permits=1000", count));
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  round {round + 1}: pull {pull.Rate:N0} msg/s, {pull.CpuMicros:F2} us/msg; WebSocket {ws.Rate:N0} msg/s, {ws.CpuMicros:F2} us/msg"));
            pulls.Add(pull);
            sockets.Add(ws);
        }

        var rounds = string.Join("; ", pulls.Zip(sockets, (pull, ws) => string.Create(CultureInfo.InvariantCulture, $"{pull.CpuMicros:F2} / {ws.CpuMicros:F2} us ({pull.Rate:N0} / {ws.Rate:N0} msg/s)")));
        return (Median(sockets), Median(pulls), rounds);
    }

    // The median rate and the median CPU per message, each ranked on its own.
    private static Drain Median(List<Drain> drains)
    {
        var middle = drains.Count / 2;
        return new Drain(drains.Select(d => d.Rate).Order().ElementAt(middle), drains.Select(d => d.CpuMicros).Order().ElementAt(middle));
    }

    private static async Task<Drain> MeasureAsync(BenchServer server, int count, Func<Task> drain)
    {
        var cpu = server.CpuTime();
        var watch = Stopwatch.StartNew();
        await drain();
        var elapsed = watch.Elapsed;
        var used = server.CpuTime() - cpu;
        return new Drain(count / elapsed.TotalSeconds, used.TotalMicroseconds / count);
    }

    // Consumers pull and ack concurrently until the subscription has delivered `count` messages between them.
    private static async Task PullAllAsync(BenchServer server, string subscription, int count)
    {
        var received = 0;
        await Task.WhenAll(Enumerable.Range(0, Consumers).Select(async _ =>
        {
            while (Volatile.Read(ref received) < count)
            {
                using var response = await server.Client.GetAsync($"{subscription}/messages?max=1000&waitMs=200");
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
                var ids = doc.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("ackId").GetString()).ToArray();
                Interlocked.Add(ref received, ids.Length);
                if (ids.Length > 0)
                {
                    await server.PostAsync($"{subscription}/acks", JsonSerializer.Serialize(new { ackIds = ids }));
                }
            }
        }));
    }

    private static async Task WebSocketAllAsync(BenchServer server, string path, int count)
    {
        var received = 0;
        using var done = new CancellationTokenSource();
        await Task.WhenAll(Enumerable.Range(0, Consumers).Select(async _ =>
        {
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}{path}"), CancellationToken.None);
            var buffer = new byte[1024 * 1024];
            var pending = new List<string>(500);
            try
            {
                while (!done.IsCancellationRequested)
                {
                    var length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await socket.ReceiveAsync(buffer.AsMemory(length), done.Token);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage);

                    var frame = buffer.AsSpan(0, length);
                    if (frame.StartsWith("{\"ackId\":\""u8))
                    {
                        var end = frame[10..].IndexOf((byte)'"');
                        pending.Add(Encoding.ASCII.GetString(frame.Slice(10, end)));
                        var total = Interlocked.Increment(ref received);

                        // Ack in batches of 500: half the window, so the server always has room to keep sending.
                        if (pending.Count == 500 || total >= count)
                        {
                            var ack = JsonSerializer.SerializeToUtf8Bytes(new { ack = pending });
                            await socket.SendAsync(ack, WebSocketMessageType.Text, true, CancellationToken.None);
                            pending.Clear();
                        }

                        if (total >= count)
                        {
                            await done.CancelAsync();
                        }
                    }
                }
            }
            catch (Exception ex) when (done.IsCancellationRequested && ex is OperationCanceledException or WebSocketException)
            {
                // Another connection received the last message. Cancelling a receive aborts the socket, and a receive
                // the abort meets mid-frame may report that as a WebSocketException rather than a cancellation (seen
                // once in some hundred drains: "An exception caused the WebSocket to enter the Aborted state").
            }

            // A receive cancelled by the token aborts the socket; only an open one is closed politely. The drain is
            // complete here: a close that meets the connection already gone (seen in a few of some hundred drains,
            // the server ending the session as the client closed) does not make the run fail, and is said.
            if (socket.State == WebSocketState.Open)
            {
                try
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
                catch (WebSocketException ex)
                {
                    Console.Error.WriteLine($"  a WebSocket connection was gone when the drained client closed it: {ex.Message}");
                }
            }
        }));
    }

    private static void Row(StringBuilder md, string figure, string sluice, string baseline, double ratio, string target, bool? met)
        => md.AppendLine(CultureInfo.InvariantCulture,
            $"| {figure} | {sluice} | {baseline} | {ratio:F2} | {target} | {(met is null ? "-" : met.Value ? "yes" : "**no**")} |");

    private static double Percentile(List<double> sorted, double p)
        => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>The built server as a child process on a free loopback port.</summary>
    private sealed class BenchServer : IAsyncDisposable
    {
        private readonly Process _process;

        private BenchServer(Process process, int port)
        {
            _process = process;
            Port = port;
            Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(120) };
        }

        public int Port { get; }

        public HttpClient Client { get; private set; }

        public static async Task<BenchServer> StartAsync(string scratch, string[] args)
        {
            // bench/Sluice.Bench/bin/<Configuration>/<tfm>/ -> src/Sluice.Server/bin/<Configuration>/<tfm>/Sluice.Server.dll
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var root = here;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Sluice.slnx")))
            {
                root = root.Parent;
            }

            var dll = Path.Combine(root?.FullName ?? ".", "src", "Sluice.Server", "bin", here.Parent!.Name, here.Name, "Sluice.Server.dll");
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"build the server first (dotnet build -c Release): {dll} is missing", dll);
            }

            var port = Http.ServerProcess.FreePort();
            var info = new ProcessStartInfo("dotnet");
            info.ArgumentList.Add(dll);
            foreach (var a in (string[])["--port", port.ToString(CultureInfo.InvariantCulture), "--data-dir", Path.Combine(scratch, "data-" + Guid.NewGuid().ToString("N")), "--grpc-port", "0", .. args])
            {
                info.ArgumentList.Add(a);
            }

            return await StartAsync(info, port);
        }

        /// <summary>This program as the fan-out baseline (<see cref="BareFanOut"/>), answering the same requests.</summary>
        public static Task<BenchServer> StartBareFanOutAsync(bool readerEvents)
        {
            var port = Http.ServerProcess.FreePort();
            return StartAsync(Http.ServerProcess.BenchChild([BareFanOut.ChildFlag, port.ToString(CultureInfo.InvariantCulture), .. readerEvents ? (string[])[BareFanOut.ReaderEvents] : []]), port);
        }

        private static async Task<BenchServer> StartAsync(ProcessStartInfo info, int port)
        {
            info.UseShellExecute = false;
            info.RedirectStandardOutput = true;
            info.RedirectStandardError = true;
            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new BenchServer(process, port);
            for (var i = 0; i < 300; i++)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the server exited with code {process.ExitCode} before it was ready");
                }

                try
                {
                    using var r = await server.Client.GetAsync("/readyz");
                    if (r.IsSuccessStatusCode)
                    {
                        return server;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                await Task.Delay(100);
            }

            throw new TimeoutException("the server did not become ready");
        }

        /// <summary>User + system CPU time the server has used so far (<see cref="ProcessCpu"/>).</summary>
        public TimeSpan CpuTime() => ProcessCpu.Of(_process.Id);

        public long ResidentBytes()
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }

            throw new InvalidOperationException("no VmRSS");
        }

        public async Task PutAsync(string path, string json)
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var r = await Client.PutAsync(path, content);
            if (!r.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"PUT {path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            }
        }

        public async Task PostAsync(string path, string json)
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var r = await Client.PostAsync(path, content);
            if (!r.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST {path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            Client.Dispose();
        }
    }
}
