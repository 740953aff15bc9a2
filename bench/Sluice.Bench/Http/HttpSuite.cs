using System.Globalization;
using System.Text;
using static System.FormattableString;

namespace Sluice.Bench.Http;

/// <summary>
/// The Sluice server (a child process, Release build, on a temp data directory) against a bare Kestrel endpoint
/// (<see cref="BareEndpoint"/>, also a child process) driven by the same load generator in the same run:
/// single-message produce and batch produce with wrk at 64 connections, and produce-to-pull latency at a steady
/// 5,000 msg/s with an open-loop C# driver (<see cref="OpenLoopDriver"/>) against POST round trips to the bare endpoint.
/// </summary>
internal sealed class HttpSuite : IBenchSuite
{
    private const int Threads = 2;
    private const int Connections = 64;
    private const int ValueBytes = 100;
    private const int BatchRecords = 1000;
    private const int Partitions = 4;
    private const int LatencyRate = 5000;
    // Two alternating rounds of bare and Sluice: the machine is shared, so neither side gets all of a quiet spell.
    private const int Rounds = 2;
    private static readonly TimeSpan Measure = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(3);

    // Before each wrk run: long enough for the JIT to finish tiering the path under load (quick, then instrumented,
    // then optimised code), which takes several seconds on two busy cores (design note 0025).
    private static readonly TimeSpan WrkWarmup = TimeSpan.FromSeconds(8);

    public string Name => "http";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        await Wrk.EnsureInstalledAsync(p);
        var serverDll = ServerDll();
        var scratch = context.ScratchDirectory;

        var single = WriteBody(scratch, "single.bin", new string('x', ValueBytes));
        var singleScript = Wrk.WritePostScript(scratch, "single", single, "application/octet-stream");
        var jsonScript = Wrk.WritePostScript(scratch, "batch-json", WriteBody(scratch, "batch.json", JsonBatch()), "application/json");
        var ndjsonScript = Wrk.WritePostScript(scratch, "batch-ndjson", WriteBody(scratch, "batch.ndjson", NdjsonBatch()), "application/x-ndjson");

        var loadAtStart = BenchmarksFile.LoadAverage();
        var md = new StringBuilder();
        md.AppendLine("## HTTP: produce and produce-to-pull through the server");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine(
            Invariant($"Load generator `wrk` ({Threads} threads, {Connections} keep-alive connections, {Measure.TotalSeconds:F0} s per run after a {WrkWarmup.TotalSeconds:F0} s warm-up run) against the Sluice server ")
          + Invariant($"(Release build, child process, flush `always`, topics created with {Partitions} partitions) and, as the baseline, a bare Kestrel endpoint ")
          + "(child process, reads the whole body, answers 200) receiving the same requests.");
        md.AppendLine();
        md.AppendLine("| figure | Sluice | baseline (same run) | ratio | floor | met |");
        md.AppendLine("|---|---|---|---|---|---|");

        var notes = new List<string>();
        var diag = new StringBuilder();
        await using var bare = await ServerProcess.StartBareAsync();
        // The durable baselines, one per way of running the group commit (GroupCommitFile.CommitMode).
        var durables = new List<(string Mode, ServerProcess Server, List<WrkResult> Runs)>();
        await using var durableWriter = await StartDurableAsync("writer");
        await using var durableLeader = await StartDurableAsync("leader");
        await using var durableInline = await StartDurableAsync("inline");

        async Task<ServerProcess> StartDurableAsync(string mode)
        {
            var dir = Path.Combine(scratch, "bare-durable-" + mode);
            Directory.CreateDirectory(dir);
            var server = await ServerProcess.StartBareAsync("--durable", dir, mode);
            durables.Add((mode, server, []));
            return server;
        }
        var dataDir = Path.Combine(scratch, "data-always");
        Directory.CreateDirectory(dataDir);
        // Carried from the `always` server to the diagnostics on the `never` server.
        double alwaysSingle;
        string fastest;
        double fastestMsgs;
        double fastestBareMsgs;
        await using (var sluice = await ServerProcess.StartSluiceAsync(serverDll, dataDir, "always"))
        {
            using var admin = new HttpClient { BaseAddress = new Uri(sluice.BaseUrl) };

            // 1. Single-message durable produce.
            var singleTopic = await CreateTopicAsync(admin, "single");
            var sluiceSingle = new List<WrkResult>();
            var bareSingle = new List<WrkResult>();
            for (var round = 1; round <= Rounds; round++)
            {
                p.WriteLine($"single produce, round {round}: bare...");
                bareSingle.Add(await WrkAsync(bare, $"{singleTopic}/messages", singleScript));
                foreach (var (mode, server, runs) in durables)
                {
                    p.WriteLine($"single produce, round {round}: durable baseline ({mode})...");
                    runs.Add(await WrkAsync(server, $"{singleTopic}/messages", singleScript));
                }

                p.WriteLine($"single produce, round {round}: sluice...");
                sluiceSingle.Add(await WrkAsync(sluice, $"{singleTopic}/messages", singleScript));
            }

            var (sRate, bRate) = (Mean(sluiceSingle, r => r.RequestsPerSecond), Mean(bareSingle, r => r.RequestsPerSecond));
            alwaysSingle = sRate;
            Row(md, $"single-message produce, {ValueBytes} B body, {Connections} connections, answered once durable (req/s, mean of {Rounds} rounds)",
                Throughput(sluiceSingle, $"{sRate:N0} req/s"), Throughput(bareSingle, $"{bRate:N0} req/s"),
                sRate / bRate, ">= 0.5", AllClean(sluiceSingle, bareSingle) && sRate / bRate >= 0.5);
            Row(md, "single-message produce latency p50 (wrk)", $"{Mean(sluiceSingle, r => r.P50Ms):F2} ms", $"{Mean(bareSingle, r => r.P50Ms):F2} ms",
                Mean(sluiceSingle, r => r.P50Ms) / Mean(bareSingle, r => r.P50Ms), "(lower is better)", null);
            Row(md, "single-message produce latency p99 (wrk)", $"{Mean(sluiceSingle, r => r.P99Ms):F2} ms", $"{Mean(bareSingle, r => r.P99Ms):F2} ms",
                Mean(sluiceSingle, r => r.P99Ms) / Mean(bareSingle, r => r.P99Ms), "(lower is better)", null);
            var (sCpu, bCpu) = (WrkResult.MeanOf(sluiceSingle).CpuMicrosPerRequest, WrkResult.MeanOf(bareSingle).CpuMicrosPerRequest);
            Row(md, "single-message produce, server CPU per request (user + system, over the measured runs); ratio = bare / Sluice",
                Invariant($"{sCpu:F1} us"), Invariant($"{bCpu:F1} us"), bCpu / sCpu, ">= 0.75 (issue 17)", bCpu / sCpu >= 0.75);
            notes.Add("Single produce per round (Sluice / bare req/s): " + string.Join("; ", sluiceSingle.Zip(bareSingle,
                (s, b) => string.Create(CultureInfo.InvariantCulture, $"{s.RequestsPerSecond:N0} / {b.RequestsPerSecond:N0} = {s.RequestsPerSecond / b.RequestsPerSecond:F2}"))) + ".");

            // The durable baselines against bare: what answering once synced costs a server that does nothing else on this
            // machine; Sluice against the cheaper of them: the part of the gap that is Sluice's own.
            var (bP99, sP99) = (Mean(bareSingle, r => r.P99Ms), Mean(sluiceSingle, r => r.P99Ms));
            foreach (var (mode, _, runs) in durables)
            {
                var (rate, cpu, p99) = (Mean(runs, r => r.RequestsPerSecond), WrkResult.MeanOf(runs).CpuMicrosPerRequest, Mean(runs, r => r.P99Ms));
                Row(md, $"durable baseline, {mode} commits (bare endpoint + one file, group commit, `fdatasync`; answers once synced) against bare: req/s",
                    Throughput(runs, $"{rate:N0} req/s"), $"bare: {bRate:N0} req/s", rate / bRate, "(what a durable answer alone leaves)", null);
                Row(md, $"same, {mode}: server CPU per request; ratio = bare / durable baseline", Invariant($"{cpu:F1} us"), Invariant($"bare: {bCpu:F1} us"), bCpu / cpu, "-", null);
                Row(md, $"same, {mode}: latency p99 (wrk); ratio = durable baseline / bare", Invariant($"{p99:F2} ms"), Invariant($"bare: {bP99:F2} ms"), p99 / bP99, "-", null);
                notes.Add(Invariant($"Single produce per round, durable baseline with {mode} commits (req/s, CPU per request, p99): ")
                  + string.Join("; ", runs.Select(d => Invariant($"{d.RequestsPerSecond:N0}, {d.CpuMicrosPerRequest:F1} us, {d.P99Ms:F2} ms"))) + ".");
            }

            var (best, _, bestRuns) = durables.MinBy(d => WrkResult.MeanOf(d.Runs).CpuMicrosPerRequest);
            var (dRate, dCpu, dP99) = (Mean(bestRuns, r => r.RequestsPerSecond), WrkResult.MeanOf(bestRuns).CpuMicrosPerRequest, Mean(bestRuns, r => r.P99Ms));
            Row(md, $"single-message produce against the durable baseline of lower CPU ({best} commits): req/s", $"{sRate:N0} req/s", $"{dRate:N0} req/s", sRate / dRate, "-", null);
            Row(md, "same: server CPU per request; ratio = durable baseline / Sluice", Invariant($"{sCpu:F1} us"), Invariant($"{dCpu:F1} us"), dCpu / sCpu, "-", null);
            Row(md, "same: latency p99 (wrk); ratio = Sluice / durable baseline", Invariant($"{sP99:F2} ms"), Invariant($"{dP99:F2} ms"), sP99 / dP99, "(lower is better)", null);

            // 2. Batch produce, JSON and NDJSON bodies of the same 1,000 records.
            var batchTopic = await CreateTopicAsync(admin, "batch");
            var formats = new List<(string Name, List<WrkResult> Sluice, List<WrkResult> Bare)>();
            foreach (var (format, script) in new[] { ("JSON", jsonScript), ("NDJSON", ndjsonScript) })
            {
                var (s, b) = (new List<WrkResult>(), new List<WrkResult>());
                for (var round = 1; round <= Rounds; round++)
                {
                    p.WriteLine($"batch produce {format}, round {round}: bare...");
                    b.Add(await WrkAsync(bare, $"{batchTopic}/batch", script));
                    p.WriteLine($"batch produce {format}, round {round}: sluice...");
                    s.Add(await WrkAsync(sluice, $"{batchTopic}/batch", script));
                }

                formats.Add((format, s, b));
            }

            var ranked = formats.OrderByDescending(f => AllClean(f.Sluice) ? Mean(f.Sluice, r => r.RequestsPerSecond) : -1).ToList();
            foreach (var (format, s, b) in ranked)
            {
                var (sMsgs, bMsgs) = (Mean(s, r => r.RequestsPerSecond) * BatchRecords, Mean(b, r => r.RequestsPerSecond) * BatchRecords);
                Row(md, $"batch produce, {BatchRecords:N0} x {ValueBytes} B per request, {format} body ({new FileInfo(BodyFile(scratch, format)).Length:N0} B), {Connections} connections (msg/s, mean of {Rounds} rounds)",
                    Throughput(s, $"{sMsgs:N0} msg/s ({sMsgs / BatchRecords:N0} req/s, p50 {Mean(s, r => r.P50Ms):F1} ms, p99 {Mean(s, r => r.P99Ms):F1} ms)"),
                    Throughput(b, $"{bMsgs:N0} msg/s ({bMsgs / BatchRecords:N0} req/s)"),
                    sMsgs / bMsgs, ">= 500,000 msg/s", AllClean(s, b) && sMsgs >= 500_000);
                var (sMsgCpu, bMsgCpu) = (WrkResult.MeanOf(s).CpuMicrosPerRequest / BatchRecords, WrkResult.MeanOf(b).CpuMicrosPerRequest / BatchRecords);
                Row(md, $"same, {format}: server CPU per message; ratio = bare / Sluice",
                    Invariant($"{sMsgCpu:F2} us"), Invariant($"{bMsgCpu:F3} us (reads the body, answers 200)"), bMsgCpu / sMsgCpu, "<= 0.8 us (issue 17)", sMsgCpu <= 0.8);
                notes.Add(Invariant($"Batch {format} per round (Sluice msg/s / bare msg/s): ")
                  + string.Join("; ", s.Zip(b, (x, y) => Invariant($"{x.RequestsPerSecond * BatchRecords:N0} / {y.RequestsPerSecond * BatchRecords:N0}"))) + ".");
            }

            // Diagnostics: keyless single messages stick to one partition for runs of 64 and a batch's keyless records
            // share one, yet concurrent requests still straddle partitions; 1 partition shows what that costs.
            fastest = ranked[0].Name;
            fastestMsgs = Mean(ranked[0].Sluice, r => r.RequestsPerSecond) * BatchRecords;
            fastestBareMsgs = Mean(ranked[0].Bare, r => r.RequestsPerSecond) * BatchRecords;
            notes.Add(Invariant($"Batch body format the server took faster in this run: {fastest} (listed first); ")
              + "the 1-partition and `never` batch diagnostics use it.");
            var oneSingle = await CreateTopicAsync(admin, "single-1p", partitions: 1);
            var oneBatch = await CreateTopicAsync(admin, "batch-1p", partitions: 1);
            p.WriteLine("diagnostic: single produce, 1 partition...");
            var single1 = await WrkAsync(sluice, $"{oneSingle}/messages", singleScript);
            p.WriteLine($"diagnostic: batch produce {fastest}, 1 partition...");
            var batch1 = await WrkAsync(sluice, $"{oneBatch}/batch", fastest == "JSON" ? jsonScript : ndjsonScript);
            Row(diag, "diagnostic: single-message produce, flush `always`, topic of **1** partition",
                Throughput([single1], $"{single1.RequestsPerSecond:N0} req/s, p50 {single1.P50Ms:F2} ms, p99 {single1.P99Ms:F2} ms"),
                $"bare, mean above: {bRate:N0} req/s", single1.RequestsPerSecond / bRate, "-", null);
            Row(diag, $"diagnostic: batch produce {fastest}, flush `always`, topic of **1** partition (msg/s)",
                Throughput([batch1], $"{batch1.RequestsPerSecond * BatchRecords:N0} msg/s ({batch1.RequestsPerSecond:N0} req/s, p50 {batch1.P50Ms:F1} ms, p99 {batch1.P99Ms:F1} ms)"),
                $"bare, same body, above: {fastestBareMsgs:N0} msg/s", batch1.RequestsPerSecond * BatchRecords / fastestBareMsgs, "-", null);

            // 3. Produce-to-pull latency at a steady rate; the baseline is the same schedule of POSTs to the bare endpoint.
            // Alternating rounds, samples pooled; each round has its own subscription so no message crosses rounds.
            var latencyTopic = await CreateTopicAsync(admin, "latency");
            var bareRuns = new List<LatencyResult>();
            var sluiceRuns = new List<LatencyResult>();
            for (var round = 1; round <= Rounds; round++)
            {
                var subscription = $"{latencyTopic}/subscriptions/bench-{round}";
                await PutJsonAsync(admin, subscription, """{"type":"shared","position":"latest"}""");
                p.WriteLine($"latency at {LatencyRate:N0} msg/s, round {round}: bare...");
                bareRuns.Add(await new OpenLoopDriver(LatencyRate, Warmup, Measure)
                    .RunAsync(new Uri($"{bare.BaseUrl}{latencyTopic}/messages"), null, null, cancellationToken));
                p.WriteLine($"latency at {LatencyRate:N0} msg/s, round {round}: sluice...");
                sluiceRuns.Add(await new OpenLoopDriver(LatencyRate, Warmup, Measure).RunAsync(
                    new Uri($"{sluice.BaseUrl}{latencyTopic}/messages"),
                    new Uri($"{sluice.BaseUrl}{subscription}/messages?max=1000&waitMs=1000"),
                    new Uri($"{sluice.BaseUrl}{subscription}/acks"),
                    cancellationToken));
            }

            var e2e = Percentiles.Of([.. sluiceRuns.SelectMany(r => r.EndToEndSamplesMs)]);
            var sluiceTrip = Percentiles.Of([.. sluiceRuns.SelectMany(r => r.RoundTripSamplesMs)]);
            var bareTrip = Percentiles.Of([.. bareRuns.SelectMany(r => r.RoundTripSamplesMs)]);
            var lost = sluiceRuns.Sum(r => r.Failed + r.NotReceived);
            var e2eCell = Invariant($"({e2e.Count:N0} messages, {Rounds} rounds pooled; achieved {sluiceRuns.Average(r => r.AchievedRate):N0} msg/s)")
                + (lost == 0 ? "" : Invariant($" **{sluiceRuns.Sum(r => r.Failed):N0} failed, {sluiceRuns.Sum(r => r.NotReceived):N0} not pulled**"));
            Row(md, $"produce-to-pull latency p50 at {LatencyRate:N0} msg/s (scheduled send to pull answer)",
                $"{e2e.P50Ms:F2} ms {e2eCell}", $"POST round trip to bare p50: {bareTrip.P50Ms:F2} ms",
                e2e.P50Ms / bareTrip.P50Ms, "(report)", null);
            Row(md, $"produce-to-pull latency p99 at {LatencyRate:N0} msg/s",
                $"{e2e.P99Ms:F2} ms", $"POST round trip to bare p99: {bareTrip.P99Ms:F2} ms",
                e2e.P99Ms / bareTrip.P99Ms, "(report)", null);
            Row(md, $"produce round trip (200 once durable) at {LatencyRate:N0} msg/s, p50 / p99",
                $"{sluiceTrip.P50Ms:F2} / {sluiceTrip.P99Ms:F2} ms",
                $"{bareTrip.P50Ms:F2} / {bareTrip.P99Ms:F2} ms",
                sluiceTrip.P99Ms / bareTrip.P99Ms, "(ratio of p99s; lower is better)", null);
            notes.Add(Invariant($"Latency rounds: {Measure.TotalSeconds:F0} s measured after {Warmup.TotalSeconds:F0} s of warm-up at the same rate, bare then Sluice, {Rounds} times. Per round, ")
              + string.Join("; ", sluiceRuns.Zip(bareRuns, (s, b) => Invariant(
                    $"Sluice produce-to-pull p50/p99 {s.EndToEnd!.P50Ms:F2}/{s.EndToEnd.P99Ms:F2} ms at {s.AchievedRate:N0} msg/s ")
                  + Invariant($"({s.Scheduled:N0} scheduled, {s.Failed:N0} failed POSTs, {s.NotReceived:N0} not pulled within 5 s, {s.Duplicates:N0} duplicates, send lateness p99 {s.SendLagP99Ms:F2} ms), ")
                  + Invariant($"bare round trip p50/p99 {b.RoundTrip.P50Ms:F2}/{b.RoundTrip.P99Ms:F2} ms at {b.AchievedRate:N0} msg/s ({b.Failed:N0} failed, send lateness p99 {b.SendLagP99Ms:F2} ms)")))
              + ".");
        }

        // Diagnostics for the single-produce ratio: where the time goes (fsync, or the HTTP and append path).
        var neverDir = Path.Combine(scratch, "data-never");
        Directory.CreateDirectory(neverDir);
        await using (var never = await ServerProcess.StartSluiceAsync(serverDll, neverDir, "never"))
        {
            using var admin = new HttpClient { BaseAddress = new Uri(never.BaseUrl) };
            var topic = await CreateTopicAsync(admin, "single");
            p.WriteLine("diagnostic: single produce, flush never...");
            var neverRun = await WrkAsync(never, $"{topic}/messages", singleScript);
            p.WriteLine("diagnostic: single produce, ?async=true (202 before the append)...");
            var asyncRun = await WrkAsync(never, $"{topic}/messages?async=true", singleScript);
            p.WriteLine("diagnostic: bare...");
            var bareRun = await WrkAsync(bare, $"{topic}/messages", singleScript);
            var batchTopic = await CreateTopicAsync(admin, "batch");
            p.WriteLine($"diagnostic: batch produce {fastest}, flush never...");
            var batchNever = await WrkAsync(never, $"{batchTopic}/batch", fastest == "JSON" ? jsonScript : ndjsonScript);
            Row(diag, "diagnostic: single-message produce with flush `never` (no fsync)",
                Throughput([neverRun], $"{neverRun.RequestsPerSecond:N0} req/s, p50 {neverRun.P50Ms:F2} ms, p99 {neverRun.P99Ms:F2} ms"),
                Throughput([bareRun], $"{bareRun.RequestsPerSecond:N0} req/s"), neverRun.RequestsPerSecond / bareRun.RequestsPerSecond, "-", null);
            Row(diag, "diagnostic: single-message produce `?async=true` (answered 202 before the append), flush `never`",
                Throughput([asyncRun], $"{asyncRun.RequestsPerSecond:N0} req/s, p50 {asyncRun.P50Ms:F2} ms, p99 {asyncRun.P99Ms:F2} ms"),
                Throughput([bareRun], $"{bareRun.RequestsPerSecond:N0} req/s"), asyncRun.RequestsPerSecond / bareRun.RequestsPerSecond, "-", null);
            Row(diag, $"diagnostic: batch produce {fastest}, flush `never`, {Partitions} partitions (msg/s)",
                Throughput([batchNever], $"{batchNever.RequestsPerSecond * BatchRecords:N0} msg/s ({batchNever.RequestsPerSecond:N0} req/s, p50 {batchNever.P50Ms:F1} ms)"),
                $"bare, same body, above: {fastestBareMsgs:N0} msg/s", batchNever.RequestsPerSecond * BatchRecords / fastestBareMsgs, "-", null);
            notes.Add(Invariant($"Where single-produce time goes in this run: with flush `never` the server reaches {neverRun.RequestsPerSecond / bareRun.RequestsPerSecond:F2} of bare, ")
              + Invariant($"answering before the append (`?async=true`) {asyncRun.RequestsPerSecond / bareRun.RequestsPerSecond:F2}, durable (`always`) {alwaysSingle / bareRun.RequestsPerSecond:F2} ")
              + Invariant($"(against this later bare run). Batch: `never` {batchNever.RequestsPerSecond * BatchRecords:N0} msg/s against `always` {fastestMsgs:N0} msg/s")
              + (batchNever.RequestsPerSecond * BatchRecords > fastestMsgs
                  ? Invariant($", so the fsync costs about {(1 - (fastestMsgs / (batchNever.RequestsPerSecond * BatchRecords))) * 100:F0}% of batch throughput")
                  : " (not faster: within this shared machine's noise the fsync's share of batch time does not show)")
              + Invariant($"; even without fsync the server handles {batchNever.RequestsPerSecond * BatchRecords / fastestBareMsgs * 100:F1}% of the batches the bare endpoint only reads: ")
              + "the rest is receiving, parsing, encoding and answering (CPU).");
        }

        md.Append(diag);
        md.AppendLine();
        md.AppendLine("Notes:");
        md.AppendLine();
        md.AppendLine(
            Invariant($"- The server, the baseline endpoint and the load generator all run on the same {Environment.ProcessorCount} cores: wrk competes with the server for CPU, ")
          + "and anything else running on the machine shows in the absolute figures. Ratios against the baseline "
          + "from the same run absorb part of that. Bare and Sluice runs alternate.");
        md.AppendLine(
            "- The durable baselines are the bare endpoint that also appends each body to one file and answers only once it is synced, in group "
          + "commits: each round takes every body queued since the last, writes them with one `pwritev` and calls `fdatasync` once. With `writer` "
          + "commits a thread of its own runs the rounds and the answers resume on the thread pool (Sluice's design); with `leader` commits the "
          + "request that finds no round running writes and syncs on its own thread, then hands the next round to the first body that came "
          + "meanwhile (no writer to wake); with `inline` commits the writer thread resumes the answers itself and Kestrel sends them inline "
          + "(no hop to the pool after the sync). The file's blocks are written with zeros before the run and reused as a ring, so no sync grows the "
          + "file; one file means one sync per round for all 64 connections. No parsing, framing, indexing or answer body. Their ratios against "
          + "bare are what a durable answer alone leaves of bare's rate and CPU here; Sluice's ratios against the cheaper one are the part of the "
          + "gap that is Sluice's own (design note 0037).");
        md.AppendLine(
            Invariant($"- Bodies: single produce is a {ValueBytes} B `application/octet-stream` body (the value). Batch bodies carry {BatchRecords:N0} records of a {ValueBytes} B ")
          + "ASCII value and no key: JSON `{\"messages\":[{\"value\":\"...\"},...]}` or NDJSON `{\"value\":\"...\"}` per line. "
          + Invariant($"Topics are created with `PUT /v1/topics/...` and {{\"partitions\":{Partitions}}}; records carry no key, so the server picks partitions."));
        md.AppendLine("- A run with any non-2xx answer or socket error is reported as such and never counts toward a floor.");
        md.AppendLine(
            "- Server CPU is the user + system time of the server process (and of the bare endpoint's, for its column) over each measured run, from `/proc/PID/stat`, "
          + "divided by the requests (or messages) it answered in that run: unlike throughput it does not move when other work takes the cores. "
          + Invariant($"Load average (1 min) when the suite started: {loadAtStart}; when it ended: {BenchmarksFile.LoadAverage()}. Design note 0017 has the profiles behind these figures."));
        md.AppendLine(
            Invariant($"- Produce-to-pull: an open-loop schedule of {LatencyRate:N0} single-message POSTs/s ({ValueBytes} B values carrying their sequence number) ")
          + "over up to 64 connections; 4 consumers long-poll one `shared` subscription (`max=1000&waitMs=1000`) and ack each answer while pulling the next. "
          + "Latency is the pull answer's arrival minus the message's scheduled send time, so queueing behind a slow request counts. "
          + "The scheduler releases due messages every ~1 ms, so up to ~1 ms of that is the driver's, on both sides. The driver also reports how late "
          + "sends left against their schedule (a busy driver, or all 64 connections waiting on slow answers); that lateness is part of the latency.");
        md.AppendLine("- Diagnostics (not floors): the 1-partition rows use the `always` server; keyless single messages stick to a partition for runs of 64 "
          + "and a batch's keyless records share one, so 4 partitions split concurrent load over fewer group commits than round-robin would. The `never` rows run on a second server with flush `never` against a fresh bare run: "
          + "the gap between `always` and `never` is the fsync's share; between `never` and `?async=true`, the wait for the append; what remains "
          + "against bare is the HTTP, routing and parsing path (and the append work, which `?async=true` still does in the background).");
        foreach (var note in notes)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        }

        return md.ToString();
    }

    // A warm-up run, then the measured run with the server's CPU over it.
    private static async Task<WrkResult> WrkAsync(ServerProcess server, string path, string script)
    {
        var url = server.BaseUrl + path;
        await Wrk.RunAsync(url, script, Threads, Connections, WrkWarmup);
        var cpu = server.CpuTime();
        var result = await Wrk.RunAsync(url, script, Threads, Connections, Measure);
        if (result.Non2xx > 0)
        {
            // The server logs why it refused (a full disk, an exception); the table says only how many.
            await Console.Error.WriteLineAsync($"{result.Non2xx} non-2xx answers from {url}; the server's output so far:{Environment.NewLine}{server.Output}");
        }

        return result with { ServerCpu = server.CpuTime() - cpu };
    }

    private static async Task<string> CreateTopicAsync(HttpClient admin, string name, int partitions = Partitions)
    {
        var path = $"/v1/topics/bench/http/{name}";
        await PutJsonAsync(admin, path, $$"""{"partitions":{{partitions}}}""");
        return path;
    }

    private static async Task PutJsonAsync(HttpClient client, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PutAsync(new Uri(path, UriKind.Relative), content);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT {path} {json}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static string Value(int i) => i.ToString("D10", CultureInfo.InvariantCulture).PadRight(ValueBytes, 'v');

    private static string JsonBatch()
        => "{\"messages\":[" + string.Join(',', Enumerable.Range(0, BatchRecords).Select(i => $"{{\"value\":\"{Value(i)}\"}}")) + "]}";

    private static string NdjsonBatch()
        => string.Concat(Enumerable.Range(0, BatchRecords).Select(i => $"{{\"value\":\"{Value(i)}\"}}\n"));

    private static string BodyFile(string scratch, string format) => Path.Combine(scratch, format == "JSON" ? "batch.json" : "batch.ndjson");

    private static string WriteBody(string scratch, string name, string body)
    {
        var path = Path.Combine(scratch, name);
        File.WriteAllText(path, body);
        return path;
    }

    internal static string ServerDll()
    {
        // Built with this command: Sluice.Bench.csproj references the server project without referencing its assembly.
        var root = AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(root); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
            {
#if DEBUG
                const string configuration = "Debug";
#else
                const string configuration = "Release";
#endif
                var dll = Path.Combine(dir.FullName, "src", "Sluice.Server", "bin", configuration, "net10.0", "Sluice.Server.dll");
                return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} not found; build src/Sluice.Server in {configuration}");
            }
        }

        throw new InvalidOperationException($"repository root (Sluice.slnx) not found above {root}");
    }

    private static double Mean(List<WrkResult> runs, Func<WrkResult, double> f) => runs.Average(f);

    private static bool AllClean(params List<WrkResult>[] runs) => runs.All(r => r.All(x => x.Clean));

    private static string Throughput(List<WrkResult> runs, string figure)
    {
        var failed = runs.Where(r => !r.Clean).ToList();
        return failed.Count == 0 ? figure : $"**failed: {string.Join("; ", failed.Select(r => r.Failures))}** (not throughput; {figure} incl. failures)";
    }

    private static void Row(StringBuilder md, string figure, string sluice, string baseline, double ratio, string floor, bool? met)
        => md.AppendLine(CultureInfo.InvariantCulture,
            $"| {figure} | {sluice} | {baseline} | {ratio:F2} | {floor} | {(met is null ? "-" : met.Value ? "yes" : "**no**")} |");
}
