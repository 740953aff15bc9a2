using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Sluice.Bench.Http;
using static System.FormattableString;
using Result = Sluice.Bench.Http.ClosedLoops.Result;

namespace Sluice.Bench.Compat;

/// <summary>
/// Pulsar Beam's and kateway's APIs against Sluice's own routes doing the same work, in the same run, on one server
/// (embedded log, flush always), all driven from this process with .NET's HttpClient: produce by closed loops, consume by
/// draining a prefilled backlog. The adapters are translations onto the same core calls, so each ratio should stay near 1
/// (the issue's floor: 0.9).
/// </summary>
internal sealed class CompatSuite : IBenchSuite
{
    private const double Floor = 0.9;
    private const int Concurrency = 32;
    private const int Consumers = 4;
    private const int ValueBytes = 100;
    private const int Rounds = 2;
    private const int Backlog = 20_000;
    private const int OneByOne = 4_000;

    /// <summary>SSE drains 20,000 messages in a few tens of milliseconds: too short to time; this takes about a second.</summary>
    private const int StreamBacklog = 200_000;
    private static readonly TimeSpan Measure = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(2);

    public string Name => "compat";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        var value = Encoding.UTF8.GetBytes(new string('x', ValueBytes));
        var md = new StringBuilder();
        md.AppendLine("## Compatibility APIs: Pulsar Beam and kateway against Sluice's own routes");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine(Invariant($"One server (Release build, child process, embedded log, flush `always`), driven from this process with HttpClient. Produce: {Concurrency} closed loops, {ValueBytes} B values, one message per request, each answered once durable; {Rounds} rounds of {Measure.TotalSeconds:F0} s per side after a {Warmup.TotalSeconds:F0} s warm-up, interleaved, means. Consume: {Consumers} consumers drain a prefilled backlog of {Backlog:N0} messages (a fresh topic per side and round), each message acked once; {Rounds} rounds, means."));
        md.AppendLine();
        md.AppendLine("| figure | compatibility API | Sluice (same run) | ratio | floor | met |");
        md.AppendLine("|---|---|---|---|---|---|");

        var dataDir = Directory.CreateDirectory(Path.Combine(context.ScratchDirectory, "embedded")).FullName;
        await using var server = await ServerProcess.StartSluiceAsync(Kafka.KafkaSuite.ServerDll(), dataDir, "always", "--kateway-sub-timeout-ms", "1000");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency }) { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };
        var notes = new List<string>();

        p.WriteLine("produce: Beam firehose vs Sluice...");
        var (beam, sluice) = await ClosedLoops.PairAsync(
            async () => (await http.PostAsync("/v2/firehose/persistent/bench/compat/beam-produce", new ByteArrayContent(value))).EnsureSuccessStatusCode(),
            async () => (await http.PostAsync("/v1/topics/bench/compat/sluice-produce/messages", new ByteArrayContent(value))).EnsureSuccessStatusCode(),
            Concurrency, Rounds, Warmup, Measure);
        Row(md, notes, "Beam produce", "Produce: Beam `POST /v2/firehose` vs `POST .../messages` (msg/s)", (beam, sluice));

        p.WriteLine("produce: kateway pub vs Sluice...");
        var (kateway, sluice2) = await ClosedLoops.PairAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/kateway/v1/msgs/produce/v1") { Content = new ByteArrayContent(value) };
                request.Headers.Add("Appid", "bench");
                request.Headers.Add("Pubkey", "k");
                (await http.SendAsync(request)).EnsureSuccessStatusCode();
            },
            async () => (await http.PostAsync("/v1/topics/bench/compat/sluice-produce/messages", new ByteArrayContent(value))).EnsureSuccessStatusCode(),
            Concurrency, Rounds, Warmup, Measure);
        Row(md, notes, "kateway produce", "Produce: kateway `POST /v1/msgs` vs `POST .../messages` (msg/s)", (kateway, sluice2));

        p.WriteLine("consume: Beam poll vs Sluice pull + ack...");
        Row(md, notes, "Beam poll", Invariant($"Consume: Beam `GET /v2/poll` (batchSize 100, shared) vs pull (max 100) + ack (msg/s)"), await DrainPairAsync(http, "beam-poll", BeamPollAsync, SluicePullAsync));

        p.WriteLine("consume: kateway batch vs Sluice pull + ack...");
        Row(md, notes, "kateway batch", "Consume: kateway `GET /v1/msgs` (batch=100, acked as written) vs pull (max 100) + ack (msg/s)", await DrainPairAsync(http, "kw-batch", KatewayBatchAsync, SluicePullAsync));

        p.WriteLine("consume: kateway ack=1 loop vs Sluice pull 1 + ack...");
        Row(md, notes, "kateway ack=1", Invariant($"Consume one by one: kateway `ack=1` (the ack rides on the next request) vs pull (max 1) + ack, {OneByOne:N0} messages (msg/s)"), await DrainPairAsync(http, "kw-one", KatewayAckLoopAsync, SluicePullOneAsync, OneByOne));

        p.WriteLine("consume: Beam SSE vs Sluice SSE (ack=auto)...");
        Row(md, notes, "Beam SSE", Invariant($"Consume by SSE: Beam `GET /v2/sse` (shared) vs `GET .../events?ack=auto`, {StreamBacklog:N0} messages (msg/s)"), await DrainPairAsync(http, "sse", BeamSseAsync, SluiceSseAsync, StreamBacklog));

        md.AppendLine();
        foreach (var note in notes)
        {
            md.AppendLine(note);
        }

        md.AppendLine("- Beam's poll and kateway's answers are acked as they are written, the cursor reaching disk with the next cursor write (within 200 ms); Sluice's `POST .../acks` answers once its ack is durable (an fsync per request under flush `always`). Consume ratios well above 1 measure that difference of guarantee, not the adapters; SSE compares like with like (both ack once flushed).");
        md.AppendLine("- Consumers of every row share the machine's 2 cores with the server and the load generator.");
        return md.ToString();
    }

    private static void Row(StringBuilder md, List<string> notes, string label, string figure, (Result Compat, Result Sluice) pair)
    {
        var (compat, sluice) = pair;
        var ratio = compat.Mean / sluice.Mean;
        md.AppendLine(CultureInfo.InvariantCulture, $"| {figure} | {compat.Mean:N0} | {sluice.Mean:N0} | {ratio:F2} | >= {Floor:F1} | {(ratio >= Floor ? "yes" : "**no**")} |");
        notes.Add($"- {label}, rounds (compatibility : Sluice, msg/s): {compat.RoundsText(sluice)}.");
    }

    /// <summary>Rounds of: fill two fresh topics, drain one through the compatibility API, then the other through Sluice's.</summary>
    private static async Task<(Result Compat, Result Sluice)> DrainPairAsync(HttpClient http, string name, Func<HttpClient, string, int, Task<double>> compat, Func<HttpClient, string, int, Task<double>> sluice, int count = Backlog)
    {
        var rc = new List<double>();
        var rs = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            var a = $"{name}-c{round}";
            var b = $"{name}-s{round}";
            foreach (var topic in new[] { a, b })
            {
                await ClosedLoops.PutAsync(http, $"/v1/topics/bench/compat/{topic}", "{\"partitions\":4}");
                await ClosedLoops.PutAsync(http, $"/v1/topics/bench/compat/{topic}/subscriptions/bench.s", "{\"type\":\"shared\",\"position\":\"earliest\",\"ackDeadlineMs\":600000}");
                await ClosedLoops.FillAsync(http, $"/v1/topics/bench/compat/{topic}/batch", count, ValueBytes);
            }

            rc.Add(await compat(http, a, count));
            rs.Add(await sluice(http, b, count));
        }

        return (new Result(rc.Average(), rc), new Result(rs.Average(), rs));
    }

    // Each consumer takes batches until the backlog is drained; a batch returns how many it took.
    private static async Task<double> DrainAsync(int count, int consumers, Func<int, Task<int>> take)
    {
        long taken = 0;
        var clock = Stopwatch.StartNew();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await Task.WhenAll(Enumerable.Range(0, consumers).Select(c => Task.Run(async () =>
        {
            while (Interlocked.Read(ref taken) < count && !guard.IsCancellationRequested)
            {
                Interlocked.Add(ref taken, await take(c));
            }
        })));
        if (Interlocked.Read(ref taken) < count)
        {
            throw new InvalidOperationException($"drained {taken} of {count} messages in 5 minutes");
        }

        return count / clock.Elapsed.TotalSeconds;
    }

    private static Task<double> BeamPollAsync(HttpClient http, string topic, int count) => DrainAsync(count, Consumers, async _ =>
    {
        using var response = await http.GetAsync($"/v2/poll/p/bench/compat/{topic}?SubscriptionName=bench.s&SubscriptionType=shared&batchSize=100&perMessageTimeoutMs=20");
        return response.StatusCode == HttpStatusCode.NoContent ? 0 : (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("size").GetInt32();
    });

    private static Task<double> KatewayBatchAsync(HttpClient http, string topic, int count) => DrainAsync(count, Consumers, async _ =>
    {
        using var request = Kateway(HttpMethod.Get, $"/kateway/v1/msgs/bench/compat/{topic}?group=s&batch=100");
        using var response = await http.SendAsync(request);
        return response.StatusCode == HttpStatusCode.NoContent ? 0 : CountMessageSet(await response.Content.ReadAsByteArrayAsync());
    });

    private static Task<double> KatewayAckLoopAsync(HttpClient http, string topic, int count)
    {
        var last = new (string Partition, string Offset)[Consumers];
        Array.Fill(last, ("-1", "-1"));
        return DrainAsync(count, Consumers, async c =>
        {
            using var request = Kateway(HttpMethod.Get, $"/kateway/v1/msgs/bench/compat/{topic}?group=s&ack=1");
            request.Headers.Add("X-Partition", last[c].Partition);
            request.Headers.Add("X-Offset", last[c].Offset);
            using var response = await http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.NoContent)
            {
                return 0;
            }

            last[c] = (response.Headers.GetValues("X-Partition").Single(), response.Headers.GetValues("X-Offset").Single());
            await response.Content.ReadAsByteArrayAsync();
            return 1;
        });
    }

    private static Task<double> SluicePullAsync(HttpClient http, string topic, int count) => DrainAsync(count, Consumers, c => PullAndAckAsync(http, topic, 100, c));

    private static Task<double> SluicePullOneAsync(HttpClient http, string topic, int count) => DrainAsync(count, Consumers, c => PullAndAckAsync(http, topic, 1, c));

    private static async Task<int> PullAndAckAsync(HttpClient http, string topic, int max, int consumer)
    {
        var path = $"/v1/topics/bench/compat/{topic}/subscriptions/bench.s";
        var pulled = await http.GetFromJsonAsync<JsonElement>($"{path}/messages?max={max}&waitMs=1000&consumer=c{consumer}");
        var ids = pulled.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("ackId").GetString()).ToList();
        if (ids.Count > 0)
        {
            (await http.PostAsJsonAsync($"{path}/acks", new { ackIds = ids })).EnsureSuccessStatusCode();
        }

        return ids.Count;
    }

    private static Task<double> BeamSseAsync(HttpClient http, string topic, int count)
        => StreamAsync(http, $"/v2/sse/p/bench/compat/{topic}?SubscriptionName=bench.s&SubscriptionType=shared", count);

    private static Task<double> SluiceSseAsync(HttpClient http, string topic, int count)
        => StreamAsync(http, $"/v1/topics/bench/compat/{topic}/subscriptions/bench.s/events?ack=auto", count);

    // SSE consumers count events ("data:" lines starting an event) until the backlog is through; then they disconnect.
    private static async Task<double> StreamAsync(HttpClient http, string url, int count)
    {
        long taken = 0;
        var clock = Stopwatch.StartNew();
        using var done = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await Task.WhenAll(Enumerable.Range(0, Consumers).Select(_ => Task.Run(async () =>
        {
            try
            {
                using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, done.Token);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(done.Token));
                var inEvent = false;
                while (await reader.ReadLineAsync(done.Token) is { } line)
                {
                    if (line.StartsWith("data:", StringComparison.Ordinal) && !inEvent)
                    {
                        inEvent = true;
                        if (Interlocked.Increment(ref taken) >= count)
                        {
                            await done.CancelAsync();
                        }
                    }
                    else if (line.Length == 0)
                    {
                        inEvent = false;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })));
        var elapsed = clock.Elapsed;
        if (Interlocked.Read(ref taken) < count)
        {
            throw new InvalidOperationException($"streamed {taken} of {count} messages in 5 minutes");
        }

        return count / elapsed.TotalSeconds;
    }

    private static HttpRequestMessage Kateway(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Appid", "bench");
        request.Headers.Add("Subkey", "k");
        return request;
    }

    private static int CountMessageSet(byte[] set)
    {
        var n = 0;
        for (var at = 0; at < set.Length; n++)
        {
            at += 16 + System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(set.AsSpan(at + 12));
        }

        return n;
    }
}
