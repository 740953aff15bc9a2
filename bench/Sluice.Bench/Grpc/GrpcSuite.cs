using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Sluice.Bench.Http;
using Sluice.Kafka;
using Sluice.Server.Compat.Pixy.Protocol;
using Sluice.Server.Grpc.V1;
using static System.FormattableString;
using Result = Sluice.Bench.Http.ClosedLoops.Result;

namespace Sluice.Bench.Grpc;

/// <summary>
/// The gRPC APIs against the same work through HTTP, in the same run, on one server (embedded log, flush always):
/// Sluice's produce and consume, Kafka-Pixy's produce and consume. Both sides are driven by this process with the same
/// concurrency (.NET HttpClient for HTTP, Grpc.Net.Client over one multiplexed channel for gRPC), so the ratio compares
/// the protocols, not the load tools. Then Kafka-Pixy's synchronous produce on the Kafka backend (the server hosts the
/// mock cluster) against a plain Confluent.Kafka producer with the same settings into the same mock cluster.
/// </summary>
internal sealed class GrpcSuite : IBenchSuite
{
    private const int Concurrency = 32;
    private const int ValueBytes = 100;
    private const int Rounds = 2;
    private const int Consumers = 4;
    private const int ConsumeMessages = 20_000;
    private const int PixyConsumeMessages = 4_000;
    private static readonly TimeSpan Measure = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(2);

    public string Name => "grpc";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var p = context.Progress;
        var value = Encoding.UTF8.GetBytes(new string('x', ValueBytes));
        var md = new StringBuilder();
        md.AppendLine("## gRPC: Sluice's service and Kafka-Pixy's against the same through HTTP");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine(Invariant($"One server (Release build, child process, embedded log, flush `always`), driven from this process: produce by {Concurrency} closed loops (HttpClient for HTTP; Grpc.Net.Client over one channel for gRPC), {ValueBytes} B values, {Rounds} rounds of {Measure.TotalSeconds:F0} s per side after a {Warmup.TotalSeconds:F0} s warm-up, means reported; consume drains a prefilled backlog."));
        md.AppendLine();
        md.AppendLine("| figure | gRPC | HTTP (same run) | ratio gRPC / HTTP |");
        md.AppendLine("|---|---|---|---|");

        var dataDir = Directory.CreateDirectory(Path.Combine(context.ScratchDirectory, "embedded")).FullName;
        var grpcPort = ServerProcess.FreePort();
        await using (var server = await ServerProcess.StartSluiceAsync(ServerDll(), dataDir, "always", "--grpc-port", grpcPort.ToString(CultureInfo.InvariantCulture), "--pixy-long-polling-timeout-ms", "500"))
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency }) { BaseAddress = new Uri(server.BaseUrl) };
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}", new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } });
            var sluice = new Sluice.Server.Grpc.V1.Sluice.SluiceClient(channel);
            var pixy = new KafkaPixy.KafkaPixyClient(channel);

            p.WriteLine("Sluice produce: HTTP vs gRPC...");
            var (grpcProduce, httpProduce) = await PairAsync(
                () => sluice.ProduceAsync(new ProduceRequest { Topic = "bench/grpc/produce-grpc", Value = ByteString.CopyFrom(value) }).ResponseAsync,
                async () => (await http.PostAsync("/v1/topics/bench/grpc/produce-http/messages", new ByteArrayContent(value))).EnsureSuccessStatusCode());
            Row(md, "Sluice produce, one message per call, durable (msg/s)", grpcProduce, httpProduce);

            p.WriteLine("Kafka-Pixy sync produce: REST vs gRPC...");
            var (grpcPixyProduce, restPixyProduce) = await PairAsync(
                () => pixy.ProduceAsync(new ProdRq { Topic = "bench-pixy-grpc", KeyUndefined = true, Message = ByteString.CopyFrom(value) }).ResponseAsync,
                async () => (await http.PostAsync("/topics/bench-pixy-rest/messages?sync", Text(value))).EnsureSuccessStatusCode());
            Row(md, "Kafka-Pixy produce, sync (msg/s)", grpcPixyProduce, restPixyProduce);

            p.WriteLine("Sluice consume: HTTP pull + acks vs gRPC streaming consume with permits...");
            await PutAsync(http, "/v1/topics/bench/grpc/consume", "{\"partitions\":4}");
            await PutAsync(http, "/v1/topics/bench/grpc/consume/subscriptions/http", "{\"position\":\"earliest\",\"ackDeadlineMs\":600000}");
            await PutAsync(http, "/v1/topics/bench/grpc/consume/subscriptions/grpc", "{\"position\":\"earliest\",\"ackDeadlineMs\":600000}");
            await FillAsync(http, "/v1/topics/bench/grpc/consume/batch", ConsumeMessages);
            var httpConsume = await DrainHttpAsync(http, ConsumeMessages);
            var grpcConsume = await DrainGrpcAsync(sluice, ConsumeMessages);
            Row(md, Invariant($"Sluice consume and ack, {Consumers} consumers, {ConsumeMessages:N0} messages (msg/s)"), grpcConsume, httpConsume);

            p.WriteLine("Kafka-Pixy consume with auto-ack: REST vs gRPC...");
            const string PixyTopic = "bench-pixy-consume";
            await PixyFirstConsumeAsync(http, pixy, PixyTopic);
            await FillAsync(http, $"/v1/topics/kafka/topics/{PixyTopic}/batch", PixyConsumeMessages);
            var restPixyConsume = await DrainAsync(PixyConsumeMessages, async () =>
            {
                using var r = await http.GetAsync($"/topics/{PixyTopic}/messages?group=rest");
                return r.IsSuccessStatusCode;
            });
            var grpcPixyConsume = await DrainAsync(PixyConsumeMessages, async () =>
            {
                try
                {
                    await pixy.ConsumeNAckAsync(new ConsNAckRq { Topic = PixyTopic, Group = "grpc", AutoAck = true });
                    return true;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
                {
                    return false;
                }
            });
            Row(md, Invariant($"Kafka-Pixy consume, auto-ack, one message per call, {Concurrency} loops, {PixyConsumeMessages:N0} messages (msg/s)"), grpcPixyConsume, restPixyConsume);
        }

        md.AppendLine();
        md.AppendLine("### Kafka-Pixy sync produce on the Kafka backend against a plain producer");
        md.AppendLine();
        md.AppendLine(Invariant($"The server runs `--backend kafka --kafka-mock-brokers 3` (librdkafka {KafkaNative.Version}'s mock cluster in the gateway process, acks=all, idempotence). Gateway: {Concurrency} loops of `/KafkaPixy/Produce` (sync, no key) over one gRPC channel. Baseline: a plain Confluent.Kafka producer in this process with the same settings, {Concurrency} loops each producing one message and awaiting its delivery report, into the same mock cluster. {Rounds} rounds each, interleaved, means."));
        md.AppendLine();
        md.AppendLine("| figure | gateway | plain producer (same run) | ratio | target | met |");
        md.AppendLine("|---|---|---|---|---|---|");
        var kafkaDir = Directory.CreateDirectory(Path.Combine(context.ScratchDirectory, "kafka")).FullName;
        var kafkaGrpcPort = ServerProcess.FreePort();
        await using (var server = await ServerProcess.StartSluiceAsync(ServerDll(), kafkaDir, "always", "--backend", "kafka", "--kafka-mock-brokers", "3", "--grpc-port", kafkaGrpcPort.ToString(CultureInfo.InvariantCulture)))
        {
            using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
            var bootstrap = (await http.GetFromJsonAsync<JsonElement>("/healthz", cancellationToken)).GetProperty("kafkaBootstrap").GetString()!;
            await PutAsync(http, "/v1/topics/kafka/topics/bench-pixy-kafka", "{\"partitions\":4}");
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{kafkaGrpcPort}", new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } });
            var pixy = new KafkaPixy.KafkaPixyClient(channel);
            KafkaNative.EnsureLoaded();
            using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true })
                .SetLogHandler((_, _) => { }).Build();
            p.WriteLine("Kafka-Pixy sync produce on Kafka vs a plain producer...");
            var (gateway, plain) = await PairAsync(
                () => pixy.ProduceAsync(new ProdRq { Topic = "bench-pixy-kafka", KeyUndefined = true, Message = ByteString.CopyFrom(value) }).ResponseAsync,
                () => producer.ProduceAsync("bench-pixy-kafka", new Message<byte[]?, byte[]?> { Value = value }));
            var ratio = gateway.Mean / plain.Mean;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| Kafka-Pixy sync produce, {ValueBytes} B, {Concurrency} loops (msg/s) | {gateway.Mean:N0} | {plain.Mean:N0} | {ratio:F2} | >= 0.8 | {(ratio >= 0.8 ? "yes" : "**no**")} |");
            md.AppendLine();
            md.AppendLine(Invariant($"- Rounds (gateway : plain, msg/s): {string.Join(" / ", gateway.Rounds.Zip(plain.Rounds, (g, pl) => Invariant($"{g:N0} : {pl:N0}")))}."));
        }

        md.AppendLine("- Both sides of every row share the machine's 2 cores with the server and the load; the mock cluster runs inside the gateway process.");
        return md.ToString();
    }

    private static Task<(Result A, Result B)> PairAsync(Func<Task> a, Func<Task> b) => ClosedLoops.PairAsync(a, b, Concurrency, Rounds, Warmup, Measure);

    private static Task FillAsync(HttpClient http, string batchPath, int count) => ClosedLoops.FillAsync(http, batchPath, count, ValueBytes);

    private static Task PutAsync(HttpClient http, string path, string json) => ClosedLoops.PutAsync(http, path, json);

    private static void Row(StringBuilder md, string figure, Result grpc, Result http)
        => md.AppendLine(CultureInfo.InvariantCulture, $"| {figure} | {grpc.Mean:N0} | {http.Mean:N0} | {grpc.Mean / http.Mean:F2} |");

    // Calls that each take one message (true) or find none (false), from many loops, until count were taken.
    private static async Task<double> DrainAsync(int count, Func<Task<bool>> take)
    {
        long taken = 0;
        var clock = Stopwatch.StartNew();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Read(ref taken) < count && !guard.IsCancellationRequested)
            {
                if (await take())
                {
                    Interlocked.Increment(ref taken);
                }
            }
        })));
        return Interlocked.Read(ref taken) / clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> DrainHttpAsync(HttpClient http, int count)
    {
        long taken = 0;
        var clock = Stopwatch.StartNew();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await Task.WhenAll(Enumerable.Range(0, Consumers).Select(c => Task.Run(async () =>
        {
            while (Interlocked.Read(ref taken) < count && !guard.IsCancellationRequested)
            {
                var pulled = await http.GetFromJsonAsync<JsonElement>($"/v1/topics/bench/grpc/consume/subscriptions/http/messages?max=100&waitMs=1000&consumer=c{c}");
                var ids = pulled.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("ackId").GetString()).ToList();
                if (ids.Count == 0)
                {
                    continue;
                }

                (await http.PostAsJsonAsync("/v1/topics/bench/grpc/consume/subscriptions/http/acks", new { ackIds = ids })).EnsureSuccessStatusCode();
                Interlocked.Add(ref taken, ids.Count);
            }
        })));
        return Interlocked.Read(ref taken) / clock.Elapsed.TotalSeconds;
    }

    // Streaming consumers with 1,000 permits each, acking (and granting as many permits) every 100 messages.
    private static async Task<double> DrainGrpcAsync(Sluice.Server.Grpc.V1.Sluice.SluiceClient client, int count)
    {
        long taken = 0;
        var clock = Stopwatch.StartNew();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await Task.WhenAll(Enumerable.Range(0, Consumers).Select(c => Task.Run(async () =>
        {
            using var call = client.Consume(cancellationToken: guard.Token);
            await call.RequestStream.WriteAsync(new ConsumeRequest { Subscribe = new Subscribe { Topic = "bench/grpc/consume", Subscription = "grpc", ConsumerId = $"g{c}", Permits = 1000 } });
            var pending = new List<string>(100);
            try
            {
                while (Interlocked.Read(ref taken) < count && await call.ResponseStream.MoveNext(guard.Token))
                {
                    if (call.ResponseStream.Current.KindCase != ConsumeResponse.KindOneofCase.Message)
                    {
                        continue;
                    }

                    pending.Add(call.ResponseStream.Current.Message.AckId);
                    if (pending.Count == 100)
                    {
                        var settle = new Settle();
                        settle.AckIds.Add(pending);
                        await call.RequestStream.WriteAsync(new ConsumeRequest { Ack = settle });
                        await call.RequestStream.WriteAsync(new ConsumeRequest { Permits = 100 });
                        Interlocked.Add(ref taken, pending.Count);
                        pending.Clear();
                    }
                }
            }
            catch (RpcException) when (Interlocked.Read(ref taken) >= count)
            {
            }

            await call.RequestStream.CompleteAsync();
        })));
        return Interlocked.Read(ref taken) / clock.Elapsed.TotalSeconds;
    }

    // Each group's first request creates it at the end of the log (and times out: nothing is there yet).
    private static async Task PixyFirstConsumeAsync(HttpClient http, KafkaPixy.KafkaPixyClient pixy, string topic)
    {
        using (await http.GetAsync($"/topics/{topic}/messages?group=rest&noAck"))
        {
        }

        try
        {
            await pixy.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = "grpc", NoAck = true });
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
        }
    }

    private static ByteArrayContent Text(byte[] value)
    {
        var content = new ByteArrayContent(value);
        content.Headers.ContentType = new("text/plain");
        return content;
    }

    private static string ServerDll() => Kafka.KafkaSuite.ServerDll();
}
