using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Sluice.Bench.Http;
using Sluice.Kafka;
using static System.FormattableString;

namespace Sluice.Bench.Kafka;

/// <summary>
/// Durable produce through the gateway on the Kafka backend (the server hosts librdkafka's mock cluster,
/// <c>--kafka-mock-brokers 3</c>) against a plain Confluent.Kafka producer with the same settings (acks=all,
/// idempotence) writing to the same mock cluster in the same run. Single messages: wrk at 64 connections against 64
/// concurrent produce-and-await loops; batches: wrk posting 1,000-record batches against 64 loops each producing
/// 1,000 records and awaiting their delivery reports. Two rounds of each pair, interleaved, and the means: one round
/// put this machine's drift into the ratio.
/// </summary>
internal sealed class KafkaSuite : IBenchSuite
{
    private const int Threads = 2;
    private const int Connections = 64;
    private const int ValueBytes = 100;
    private const int BatchRecords = 1000;
    private const int Partitions = 4;
    private const int Rounds = 2;
    private static readonly TimeSpan Measure = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(3);

    public string Name => "kafka";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        await Wrk.EnsureInstalledAsync(p);
        var scratch = context.ScratchDirectory;
        var single = Path.Combine(scratch, "single.bin");
        await File.WriteAllTextAsync(single, new string('x', ValueBytes), cancellationToken);
        var batch = Path.Combine(scratch, "batch.ndjson");
        await File.WriteAllTextAsync(batch, string.Concat(Enumerable.Range(0, BatchRecords).Select(i => $"{{\"value\":\"{Value(i)}\"}}\n")), cancellationToken);
        var singleScript = Wrk.WritePostScript(scratch, "single", single, "application/octet-stream");
        List<string> singleRounds = [];
        List<string> batchRounds = [];
        var batchScript = Wrk.WritePostScript(scratch, "batch", batch, "application/x-ndjson");

        await using var sluice = await Http.ServerProcess.StartSluiceAsync(ServerDll(), scratch, "always", "--backend", "kafka", "--kafka-mock-brokers", "3");
        using var admin = new HttpClient { BaseAddress = new Uri(sluice.BaseUrl) };
        var health = await admin.GetFromJsonAsync<JsonElement>("/healthz", cancellationToken);
        var bootstrap = health.GetProperty("kafkaBootstrap").GetString()!;
        var singleTopic = await CreateTopicAsync(admin, "single");
        var batchTopic = await CreateTopicAsync(admin, "batch");
        var plainTopic = await CreateTopicAsync(admin, "plain");
        KafkaNative.EnsureLoaded();
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(PlainProducerConfig(bootstrap)).SetLogHandler((_, _) => { }).Build();
        var plainKafkaTopic = KafkaName(plainTopic);

        // The least an HTTP gateway to Kafka does: the bare endpoint producing each body with a plain producer.
        var bareTopic = await CreateTopicAsync(admin, "bare");
        await using var bare = await Http.ServerProcess.StartBareAsync(
            "--kafka", bootstrap, KafkaName(bareTopic));
        List<WrkResult> bareSingle = [];

        var (plainSingle, gatewaySingle) = await PairAsync("single produce", 1, $"{sluice.BaseUrl}{singleTopic}/messages", singleScript, singleRounds, bareSingle);
        var (plainBatch, gatewayBatch) = await PairAsync("batch produce", BatchRecords, $"{sluice.BaseUrl}{batchTopic}/batch", batchScript, batchRounds, null);

        var md = new StringBuilder();
        md.AppendLine("## Kafka: durable produce through the gateway on the Kafka backend");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine(
            Invariant($"The server (Release build, child process) runs `--backend kafka --kafka-mock-brokers 3`: it hosts librdkafka {KafkaNative.Version}'s in-memory mock cluster and produces to it with acks=all and idempotence. ")
          + Invariant($"Load: `wrk` ({Threads} threads, {Connections} connections, {Measure.TotalSeconds:F0} s after a {Warmup.TotalSeconds:F0} s warm-up) on topics of {Partitions} partitions; {Rounds} rounds of plain producer then gateway, means reported. ")
          + Invariant($"Baseline: a plain Confluent.Kafka {typeof(ProducerConfig).Assembly.GetName().Version!.ToString(3)} producer in the bench process with the same settings, {Connections} concurrent loops each producing one message (or {BatchRecords:N0}) and awaiting the delivery reports, into the same mock cluster."));
        md.AppendLine();
        md.AppendLine("| figure | gateway | plain producer (same run) | ratio | target | met |");
        md.AppendLine("|---|---|---|---|---|---|");
        var singleRatio = gatewaySingle.RequestsPerSecond / plainSingle;
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| single-message produce, {ValueBytes} B, {Connections} connections (msg/s) | {Figure(gatewaySingle, gatewaySingle.RequestsPerSecond)} (p50 {gatewaySingle.P50Ms:F2} ms, p99 {gatewaySingle.P99Ms:F2} ms) | {plainSingle:N0} msg/s | {singleRatio:F2} | >= 0.5 | {Met(gatewaySingle, singleRatio >= 0.5)} |");
        var bareRate = bareSingle.Average(r => r.RequestsPerSecond);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| single-message produce through the bare HTTP endpoint and a plain producer (msg/s) | {Figure(WrkResult.MeanOf(bareSingle), bareRate)} (p50 {bareSingle.Average(r => r.P50Ms):F2} ms, p99 {bareSingle.Average(r => r.P99Ms):F2} ms) | {plainSingle:N0} msg/s | {bareRate / plainSingle:F2} | (an HTTP gateway with Kestrel's default scheduling) | - |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| single-message produce, gateway against the bare HTTP endpoint with a plain producer (msg/s) | {Figure(gatewaySingle, gatewaySingle.RequestsPerSecond)} | {Figure(WrkResult.MeanOf(bareSingle), bareRate)} | {gatewaySingle.RequestsPerSecond / bareRate:F2} | - | - |");
        var batchMsgs = gatewayBatch.RequestsPerSecond * BatchRecords;
        var batchRatio = batchMsgs / plainBatch;
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| batch produce, {BatchRecords:N0} x {ValueBytes} B per request (NDJSON), {Connections} connections (msg/s) | {Figure(gatewayBatch, batchMsgs)} (p50 {gatewayBatch.P50Ms:F1} ms, p99 {gatewayBatch.P99Ms:F1} ms) | {plainBatch:N0} msg/s | {batchRatio:F2} | >= 0.8 | {Met(gatewayBatch, batchRatio >= 0.8)} |");
        md.AppendLine();
        md.AppendLine("- The mock cluster runs inside the gateway process, so it shares the gateway's CPU in both columns; a real cluster moves that work elsewhere.");
        md.AppendLine(Invariant($"- Rounds: single {string.Join(" / ", singleRounds)}; batch {string.Join(" / ", batchRounds)} (gateway : plain, msg/s); ")
          + Invariant($"single through the bare HTTP endpoint {string.Join(" / ", bareSingle.Select(r => Invariant($"{r.RequestsPerSecond:N0}")))} msg/s."));
        md.AppendLine(
            "- The bare HTTP endpoint with a plain producer is the bench's bare Kestrel endpoint (reads the body, answers 200) that produces each body as one record "
          + "with a producer of the plain column's settings and answers once its delivery report is in: an HTTP gateway with no routing, no parsing, no answer body. "
          + "It runs in its own process, driven by the same `wrk`, in each round between the plain producer and the gateway. Against the plain producer it is what "
          + "the HTTP round trip costs a gateway on Kestrel's default scheduling (Sluice's HTTP port sends inline, design note 0047; inline socket completions, which Sluice does not take, "
          + "shorten it: design note 0031); the gateway against it is Sluice's own share (design note 0037).");
        return md.ToString();

        // Rounds of the plain producer then the gateway, warm-ups in the first round only; the means of each side.
        // With bareRuns, the bare HTTP endpoint's runs between them.
        async Task<(double Plain, WrkResult Gateway)> PairAsync(string what, int perRound, string url, string script, List<string> rounds, List<WrkResult>? bareRuns)
        {
            var plains = new List<double>();
            var gateways = new List<WrkResult>();
            for (var round = 0; round < Rounds; round++)
            {
                p.WriteLine($"{what}, round {round + 1}: plain producer...");
                if (round == 0)
                {
                    await PlainAsync(producer, plainKafkaTopic, perRound, Warmup);
                }

                plains.Add(await PlainAsync(producer, plainKafkaTopic, perRound, Measure));
                if (bareRuns is not null)
                {
                    p.WriteLine($"{what}, round {round + 1}: bare HTTP endpoint with a plain producer...");
                    var bareUrl = $"{bare.BaseUrl}/messages";
                    if (round == 0)
                    {
                        await Wrk.RunAsync(bareUrl, script, Threads, Connections, Warmup);
                    }

                    bareRuns.Add(await Wrk.RunAsync(bareUrl, script, Threads, Connections, Measure));
                }

                p.WriteLine($"{what}, round {round + 1}: gateway...");
                if (round == 0)
                {
                    await Wrk.RunAsync(url, script, Threads, Connections, Warmup);
                }

                gateways.Add(await Wrk.RunAsync(url, script, Threads, Connections, Measure));
            }

            rounds.AddRange(gateways.Zip(plains, (g, pl) => Invariant($"{g.RequestsPerSecond * perRound:N0} : {pl:N0}")));
            return (plains.Average(), WrkResult.MeanOf(gateways));
        }
    }

    // The Kafka topic behind a Sluice topic's path (/v1/topics/{tenant}/{namespace}/{name}).
    private static string KafkaName(string topicPath) => KafkaTopicNames.ToKafka(Sluice.Core.Topics.TopicName.Parse(topicPath["/v1/topics/".Length..]));

    /// <summary>The plain producer's settings, Sluice's own (acks=all, idempotence), and the bare HTTP endpoint's.</summary>
    internal static ProducerConfig PlainProducerConfig(string bootstrap) => new()
    {
        BootstrapServers = bootstrap,
        Acks = Acks.All,
        EnableIdempotence = true,
    };

    /// <summary>Messages per second of <see cref="Connections"/> loops, each producing <paramref name="perRound"/> messages and awaiting them.</summary>
    private static async Task<double> PlainAsync(IProducer<byte[]?, byte[]?> producer, string topic, int perRound, TimeSpan duration)
    {
        var value = Encoding.UTF8.GetBytes(new string('x', ValueBytes));
        long delivered = 0;
        var clock = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, Connections).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                var pending = new Task[perRound];
                for (var i = 0; i < perRound; i++)
                {
                    pending[i] = producer.ProduceAsync(topic, new Message<byte[]?, byte[]?> { Value = value });
                }

                await Task.WhenAll(pending);
                Interlocked.Add(ref delivered, perRound);
            }
        }));
        await Task.WhenAll(loops);
        return delivered / clock.Elapsed.TotalSeconds;
    }

    private static string Figure(WrkResult run, double msgs) => run.Clean ? $"{msgs:N0} msg/s" : $"**failed: {run.Failures}** ({msgs:N0} msg/s incl. failures)";

    private static string Met(WrkResult run, bool met) => run.Clean && met ? "yes" : "**no**";

    private static string Value(int i) => i.ToString("D10", CultureInfo.InvariantCulture).PadRight(ValueBytes, 'v');

    private static async Task<string> CreateTopicAsync(HttpClient admin, string name)
    {
        var path = $"/v1/topics/bench/kafka/{name}";
        using var content = new StringContent($$"""{"partitions":{{Partitions}}}""", Encoding.UTF8, "application/json");
        using var response = await admin.PutAsync(new Uri(path, UriKind.Relative), content);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return path;
    }

    internal static string ServerDll()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
            {
                var dll = Path.Combine(dir.FullName, "src", "Sluice.Server", "bin", "Release", "net10.0", "Sluice.Server.dll");
                return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} not found; build src/Sluice.Server in Release");
            }
        }

        throw new InvalidOperationException("repository root (Sluice.slnx) not found");
    }
}
