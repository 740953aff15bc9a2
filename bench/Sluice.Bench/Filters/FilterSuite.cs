using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Sluice.Bench.Http;
using Sluice.Core.Filters;
using Sluice.Core.Log;
using static System.FormattableString;

namespace Sluice.Bench.Filters;

/// <summary>
/// Pull through a filtered subscription against an unfiltered one over the same messages, in the same run:
/// <code>
///   topic pre-filled: N messages, header region = "eu" on every tenth, "us" on the rest
///   per round, in turn: subscription (earliest) without filter | with header.region = "eu" (10%) | with header:region (100%)
///     4 pull loops (max 1000, waitMs 1000, ack each answer) until every match is delivered and the lag is 0
///     wall time and the server's CPU (/proc) over that window
/// </code>
/// Scanned = every message the subscription got through (N); delivered = the matches. The 100% filter isolates the cost
/// of evaluating a filter from the cost of delivering fewer messages. Rounds alternate the order; medians reported.
/// </summary>
internal sealed class FilterSuite : IBenchSuite
{
    // Enough for runs of seconds: /proc counts CPU in 10 ms ticks.
    private const int Messages = 1_000_000;
    private const int Partitions = 4;
    private const int ValueBytes = 100;
    private const int BatchRecords = 1000;
    private const int Pullers = 4;
    private const int Rounds = 3;
    private const string Topic = "/v1/topics/bench/filters/mixed";
    private const string TenPercent = "header.region = \"eu\"";
    private const string AllMatch = "header:region";

    public string Name => "filters";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        await using var server = await Http.ServerProcess.StartSluiceAsync(Http.ServerProcess.SluiceServerDll(), context.ScratchDirectory, "always");
        using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = TimeSpan.FromMinutes(2) };
        await SendAsync(client, HttpMethod.Put, Topic, $$"""{"partitions":{{Partitions}}}""", cancellationToken);
        p.WriteLine(Invariant($"producing {Messages:N0} messages"));
        await FillAsync(client, cancellationToken);

        // A warm-up pass of each kind (JIT tiering), not reported.
        var kinds = new (string Label, string? Filter, int Expected)[] { ("none", null, Messages), ("10%", TenPercent, Messages / 10), ("100%", AllMatch, Messages) };
        foreach (var (label, filter, expected) in kinds)
        {
            p.WriteLine($"warm-up: {label}");
            await DrainAsync(server, client, $"warm-{label.TrimEnd('%')}", filter, expected, cancellationToken);
        }

        var runs = kinds.ToDictionary(k => k.Label, _ => new List<Run>());
        for (var round = 0; round < Rounds; round++)
        {
            // Rotate the order: the machine's speed drifts within a run.
            for (var k = 0; k < kinds.Length; k++)
            {
                var (label, filter, expected) = kinds[(k + round) % kinds.Length];
                var run = await DrainAsync(server, client, Invariant($"r{round}-{label.TrimEnd('%')}"), filter, expected, cancellationToken);
                p.WriteLine(Invariant($"round {round + 1}, filter {label}: {run.Delivered:N0} delivered in {run.Elapsed.TotalSeconds:F2} s, server CPU {run.ServerCpu.TotalSeconds:F2} s"));
                runs[label].Add(run);
            }
        }

        var evalNs = MeasureEvaluation();
        return Report(runs["none"], runs["10%"], runs["100%"], evalNs);
    }

    private static string Report(List<Run> plain, List<Run> ten, List<Run> all, double evalNs)
    {
        var (plainScan, tenScan, allScan) = (Median(plain, r => Messages / r.Elapsed.TotalSeconds), Median(ten, r => Messages / r.Elapsed.TotalSeconds), Median(all, r => Messages / r.Elapsed.TotalSeconds));
        var (plainCpu, tenCpu, allCpu) = (Median(plain, CpuPerScanned), Median(ten, CpuPerScanned), Median(all, CpuPerScanned));
        var tenCpuDelivered = Median(ten, r => r.ServerCpu.TotalMicroseconds / r.Delivered);

        var md = new StringBuilder();
        md.AppendLine("## Filters: pull through a filtered subscription");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine(Invariant($"The server (Release build, child process, embedded log, flush `always`) holds one topic of {Partitions} partitions with {Messages:N0} messages of {ValueBytes} B, keyed, with a header `region` that is `eu` on every tenth and `us` on the rest. ")
            + Invariant($"Per run a new subscription at `earliest` is drained by {Pullers} pull loops (`max=1000&waitMs=1000`, each answer acked before the next pull) until every match is delivered and its lag is 0. ")
            + Invariant($"Baseline: an unfiltered subscription over the same messages, in the same rounds. {Rounds} rounds, the order rotating, medians reported; server CPU from `/proc` over each run."));
        md.AppendLine();
        md.AppendLine("| figure | filtered | baseline (same run) | ratio | target | met |");
        md.AppendLine("|---|---|---|---|---|---|");
        md.AppendLine(Invariant($"| pull throughput, filter `{TenPercent}` matching 10%: messages got through per second (scanned) | {tenScan:N0} msg/s ({tenScan / 10:N0} delivered/s) | unfiltered: {plainScan:N0} msg/s (all delivered) | {tenScan / plainScan:F2} | (higher is better; the filter skips delivery work) | - |"));
        md.AppendLine(Invariant($"| server CPU per scanned message, 10% filter | {tenCpu:F2} us | unfiltered: {plainCpu:F2} us | {tenCpu / plainCpu:F2} | (lower is better) | - |"));
        md.AppendLine(Invariant($"| server CPU per delivered message, 10% filter | {tenCpuDelivered:F2} us | unfiltered: {plainCpu:F2} us | {tenCpuDelivered / plainCpu:F2} | (each delivery carries 9 filtered reads) | - |"));
        md.AppendLine(Invariant($"| diagnostic: filter `{AllMatch}` matching 100%, server CPU per message | {allCpu:F2} us ({allScan:N0} msg/s) | unfiltered: {plainCpu:F2} us ({plainScan:N0} msg/s) | {allCpu / plainCpu:F2} | (the cost of evaluating a filter) | - |"));
        md.AppendLine(Invariant($"| diagnostic: one evaluation of a 5-condition filter, in process | {evalNs:F1} ns | unfiltered server CPU per message: {plainCpu * 1000:F0} ns | {evalNs / (plainCpu * 1000):F4} | (share of a message's cost) | - |"));
        md.AppendLine();
        md.AppendLine(Invariant($"- Per round (scanned msg/s, none / 10% / 100%): {string.Join("; ", Enumerable.Range(0, Rounds).Select(i => Invariant($"{Messages / plain[i].Elapsed.TotalSeconds:N0} / {Messages / ten[i].Elapsed.TotalSeconds:N0} / {Messages / all[i].Elapsed.TotalSeconds:N0}")))}."));
        md.AppendLine(Invariant($"- Per round (server CPU us per scanned message, none / 10% / 100%): {string.Join("; ", Enumerable.Range(0, Rounds).Select(i => Invariant($"{CpuPerScanned(plain[i]):F2} / {CpuPerScanned(ten[i]):F2} / {CpuPerScanned(all[i]):F2}")))}."));
        md.AppendLine("- Filtered messages never become leases: the read-ahead acks them in the cursor as runs of offsets, so the 10% subscription answers a tenth of the pulls and acks a tenth of the messages; what it still pays per scanned message is the read and decode of the log and one filter evaluation.");
        md.AppendLine("- The pull loops run in the bench process on the same 2 cores as the server; their CPU is not in the server figures.");
        md.AppendLine("- The in-process evaluation: `(header.region = \"eu\" OR header.tag IN (10 values)) AND hasPrefix(header.type, \"order.\") AND NOT key IN (2 values) AND hasPrefix(key, \"k\")` on a record with 4 headers (an array, as the embedded log decodes them), 10,000,000 evaluations after 2 s of warm-up, timed in process CPU time, allocating nothing.");
        return md.ToString();
    }

    private static double CpuPerScanned(Run r) => r.ServerCpu.TotalMicroseconds / Messages;

    private static double Median(List<Run> runs, Func<Run, double> f) => Percentiles.Median(runs.Select(f));

    // Batches of NDJSON records; every tenth message is from "eu".
    private static async Task FillAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var value = new string('v', ValueBytes);
        for (var start = 0; start < Messages; start += BatchRecords)
        {
            var sb = new StringBuilder(BatchRecords * (ValueBytes + 80));
            for (var i = start; i < start + BatchRecords; i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $$$"""{"key":"k{{{i % 1000}}}","value":"{{{value}}}","headers":{"region":"{{{(i % 10 == 0 ? "eu" : "us")}}}"}}""").Append('\n');
            }

            using var content = new StringContent(sb.ToString(), Encoding.UTF8, "application/x-ndjson");
            using var response = await client.PostAsync(new Uri(Topic + "/batch", UriKind.Relative), content, cancellationToken);
            await EnsureAsync(response, "POST batch");
        }
    }

    private static async Task<Run> DrainAsync(Http.ServerProcess server, HttpClient client, string name, string? filter, int expected, CancellationToken cancellationToken)
    {
        var path = $"{Topic}/subscriptions/{name}";
        var settings = filter is null ? """{"position":"earliest"}""" : JsonSerializer.Serialize(new Dictionary<string, string> { ["position"] = "earliest", ["filter"] = filter });
        await SendAsync(client, HttpMethod.Put, path, settings, cancellationToken);

        var cpu = server.CpuTime();
        var clock = Stopwatch.StartNew();
        long delivered = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = Enumerable.Range(0, Pullers).Select(i => Task.Run(() => PullLoopAsync(client, path, $"c{i}", () => Interlocked.Read(ref delivered) >= expected, n => Interlocked.Add(ref delivered, n), stop.Token))).ToList();
        try
        {
            while (Interlocked.Read(ref delivered) < expected)
            {
                var failed = loops.FirstOrDefault(l => l.IsFaulted);
                if (failed is not null)
                {
                    await failed;
                }

                await Task.Delay(5, cancellationToken);
            }

            // The tail after the last match is still being read (and filtered): done once the lag is 0.
            while ((await client.GetFromJsonAsync<JsonElement>(path, cancellationToken)).GetProperty("backlog").GetInt64() > 0)
            {
                await Task.Delay(5, cancellationToken);
            }

            var elapsed = clock.Elapsed;
            var used = server.CpuTime() - cpu;
            var info = await client.GetFromJsonAsync<JsonElement>(path, cancellationToken);
            var filteredOut = info.GetProperty("filteredOut").GetInt64();
            if (Interlocked.Read(ref delivered) != expected || filteredOut != Messages - expected)
            {
                throw new InvalidOperationException(Invariant($"subscription {name}: {delivered} delivered (expected {expected}), {filteredOut} filtered out (expected {Messages - expected})"));
            }

            return new Run(expected, elapsed, used);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops.Select(l => l.ContinueWith(_ => { }, TaskScheduler.Default)));
            await SendAsync(client, HttpMethod.Delete, path, null, CancellationToken.None);
        }
    }

    private static async Task PullLoopAsync(HttpClient client, string path, string consumer, Func<bool> done, Action<int> delivered, CancellationToken cancellationToken)
    {
        while (!done() && !cancellationToken.IsCancellationRequested)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{path}/messages?max=1000&waitMs=1000");
            request.Headers.Add("Sluice-Consumer-Id", consumer);
            using var response = await client.SendAsync(request, cancellationToken);
            await EnsureAsync(response, "pull");
            using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            var messages = body.RootElement.GetProperty("messages");
            if (messages.GetArrayLength() == 0)
            {
                continue;
            }

            var ackIds = messages.EnumerateArray().Select(m => m.GetProperty("ackId").GetString()!).ToArray();
            using var ack = new StringContent(JsonSerializer.Serialize(new Dictionary<string, string[]> { ["ackIds"] = ackIds }), Encoding.UTF8, "application/json");
            using var acked = await client.PostAsync(new Uri(path + "/acks", UriKind.Relative), ack, cancellationToken);
            await EnsureAsync(acked, "ack");
            delivered(ackIds.Length);
        }
    }

    // CPU nanoseconds per MessageFilter.Matches of a five-condition filter on a typical record.
    private static double MeasureEvaluation()
    {
        var filter = MessageFilter.Parse(
            "(header.region = \"eu\" OR header.tag IN (\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"j\")) AND hasPrefix(header.type, \"order.\") AND NOT key IN (\"x\", \"y\") AND hasPrefix(key, \"k\")");
        // An array of headers, as the embedded log decodes them.
        KeyValuePair<string, string>[] headers = [new("content-type", "application/json"), new("region", "us"), new("tag", "j"), new("type", "order.created")];
        var record = new StoredRecord(0, DateTimeOffset.UnixEpoch, "k1"u8.ToArray(), new byte[ValueBytes], headers);
        const int Evaluations = 10_000_000;

        // Two seconds of warm-up: the JIT's tiering promotes the evaluation methods in the background.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(2))
        {
            for (var i = 0; i < 10_000; i++)
            {
                _ = filter.Matches(record);
            }
        }

        // CPU time, not wall time, like the server figures it is compared with: on a shared machine this thread is
        // descheduled often, and wall time would count that. The bench process does nothing else meanwhile.
        var matched = 0;
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        for (var i = 0; i < Evaluations; i++)
        {
            matched += filter.Matches(record) ? 1 : 0;
        }

        self.Refresh();
        var ns = (self.TotalProcessorTime - cpu).TotalNanoseconds / Evaluations;
        return matched == Evaluations ? ns : throw new InvalidOperationException("the filter should match this record");
    }

    private static async Task SendAsync(HttpClient client, HttpMethod method, string path, string? json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request, cancellationToken);
        await EnsureAsync(response, $"{method} {path}");
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private sealed record Run(long Delivered, TimeSpan Elapsed, TimeSpan ServerCpu);
}
