using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using Sluice.Bench.Http;
using Sluice.Kafka;
using Sluice.Replication.Tests.Amqp;
using Sluice.Replication.Tests.Nats;
using Sluice.Replication.Tests.PostgreSql;
using Sluice.Replication.Tests.S3;

namespace Sluice.Bench.Replication;

/// <summary>
/// Replicators against the same target written directly by a plain client, in the same run:
/// <code>
///   postgresql: plain Npgsql, 4 connections (one per partition), 500-row unnest inserts  vs  replicator (batch 500)
///   http:       plain HttpClient, 4 loops, 500-record JSON batches to a bare Kestrel     vs  replicator (batch 500, json)
///   amqp:       plain RabbitMQ.Client, 4 confirm channels, 500 persistent messages then
///               their confirms (RabbitMQ started as the tests start it)                  vs  replicator (batch 500)
///   nats:       plain NATS.Net, 4 loops on one connection, 500 JetStream publishes then
///               their acks (nats-server -js started as the tests start it)               vs  replicator (batch 500)
///   s3:         plain AWSSDK.S3, 4 loops, one 500-record NDJSON object per PUT to s3rver vs  replicator (batch 500)
///   kafka:      plain Confluent.Kafka (acks=all, idempotent), 4 loops of 500-record batches to the mock cluster vs  replicator
///   lag:        5,000 msg/s produced steadily for 20 s; per record, PostgreSQL's clock at insert minus the publish time
/// </code>
/// Values are 1 KiB. The replicators read a pre-filled topic of 4 partitions from the start. Each side's rate is taken
/// steady (from its first acknowledged batch to its last: the one-off setup left out on both sides) and from the start
/// (the replicator's registration, the plain client's first write). A warm-up round of every pair on a small topic comes
/// first and is not counted; then two rounds of each pair, means reported.
/// </summary>
internal sealed class ReplicationSuite : IBenchSuite
{
    private const int Records = 100_000;
    private const int ValueBytes = 1024;
    private const int Partitions = 4;
    private const int Batch = 500;
    private const int Rounds = 2;
    private const string WarmUpSource = "bench/repl/warmup";
    private const int WarmUpRecords = 10_000;
    private const int SteadyRate = 5_000;
    private static readonly TimeSpan SteadyFor = TimeSpan.FromSeconds(20);
    private static readonly string[] AllSinks = ["postgresql", "http (json)", "amqp (RabbitMQ)", "nats (JetStream)", "s3", "kafka"];

    // BENCH_SINKS=postgresql,s3 measures only those pairs (names up to the first space), for working on one sink.
    private static readonly string[] Sinks = Environment.GetEnvironmentVariable("BENCH_SINKS") is { Length: > 0 } only
        ? AllSinks.Where(s => only.Split(',', StringSplitOptions.TrimEntries).Contains(s.Split(' ')[0], StringComparer.Ordinal)).ToArray()
        : AllSinks;

    public string Name => "replication";

    public async Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        await using var pg = await PostgresServer.StartNewAsync();
        await using var bare = await ServerProcess.StartBareAsync();
        await using var rabbit = await RabbitMqServer.StartNewAsync();
        await using var amqp = new AmqpBaseline(rabbit);
        await using var natsServer = await NatsServer.StartNewAsync();
        await using var nats = new NatsBaseline(natsServer);
        await using var s3 = await S3rverServer.StartNewAsync(maxObjectBytes: 0);
        using var kafka = KafkaMockCluster.Start(1);
        var data = Path.Combine(context.ScratchDirectory, "sluice");
        Directory.CreateDirectory(data);
        await using var sluice = await ServerProcess.StartSluiceAsync(HttpSuite.ServerDll(), data, "always", "--allow-private-webhooks");
        using var client = new HttpClient { BaseAddress = new Uri(sluice.BaseUrl), Timeout = TimeSpan.FromMinutes(5) };

        const string Source = "bench/repl/source";
        context.Progress.WriteLine($"filling {Source} with {Records} records of {ValueBytes} B, {WarmUpSource} with {WarmUpRecords}");
        await FillAsync(client, Source, Records, cancellationToken);
        await FillAsync(client, WarmUpSource, WarmUpRecords, cancellationToken);

        var targets = new Targets(pg, bare, rabbit, amqp, natsServer, nats, s3, kafka);
        var runs = Sinks.ToDictionary(s => s, _ => (Plain: new List<RunRate>(), Sluice: new List<RunRate>()));

        // A warm-up round on a small topic first, not counted: each side's code paths (the server's sink and engine, the
        // bench's client libraries) are compiled and its connections made before either is measured.
        await RoundAsync(client, targets, "warm", WarmUpSource, WarmUpRecords, null, context, cancellationToken);
        for (var round = 0; round < Rounds; round++)
        {
            await RoundAsync(client, targets, round.ToString(CultureInfo.InvariantCulture), Source, Records, runs, context, cancellationToken);
        }

        var (p50, p99, max, produced) = await SteadyLagAsync(client, pg, cancellationToken);
        var md = new StringBuilder();
        md.AppendLine("## Replicators: sink throughput and replication lag");
        md.AppendLine();
        md.AppendLine(BenchmarksFile.MachineLine());
        md.AppendLine();
        md.AppendLine($"Throughput: {Records:N0} records of {ValueBytes} B in {Partitions} partitions, batches of {Batch}, one batch in flight per partition. ");
        md.AppendLine("Baseline: the same target written directly by a plain client with the same batch size, one writer per partition, from records");
        md.AppendLine("already in memory; the replicator reads them from the embedded log (flush `always`) and acks each batch. PostgreSQL commits");
        md.AppendLine("synchronously in both; the http target is a bare Kestrel endpoint answering 200. RabbitMQ gets persistent messages into a durable");
        md.AppendLine("queue, a batch done when every publisher confirm is in; NATS gets JetStream publishes (file storage) with Nats-Msg-Id, a batch");
        md.AppendLine("done when every ack is in; both baselines send the message the sink sends (same headers and ids); s3 is s3rver (node, on this machine), one");
        md.AppendLine("NDJSON object per batch, each PUT answered before the next; kafka is librdkafka's mock cluster hosted by the bench process,");
        md.AppendLine("acks=all and idempotent in both, each batch's delivery reports awaited before the next. A warm-up round of every pair on");
        md.AppendLine($"{WarmUpRecords:N0} other records comes first and is not counted; then {Rounds} rounds, means. **Steady**: records after the first");
        md.AppendLine("acknowledged batch over the time from it to the last, on both sides (the replicator's progress polled every 20 ms), so the one-off");
        md.AppendLine("setup (registration, subscription, first connection; the plain client's first batch likewise) is left out; the floor 0.8 applies");
        md.AppendLine("to it. **From start**: all records over the time from the replicator's registration (the plain client's start) to the last");
        md.AppendLine("acknowledgement; *first batch* is when the first acknowledgement was seen.");
        md.AppendLine();
        md.AppendLine("| sink | plain client, steady (records/s) | replicator, steady (records/s) | ratio steady | ratio from start | first batch plain / replicator |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var sink in Sinks)
        {
            md.AppendLine(Row(sink, runs[sink].Plain, runs[sink].Sluice));
        }

        md.AppendLine();
        md.AppendLine($"Lag at a steady {SteadyRate:N0} msg/s ({produced:N0} records of {ValueBytes} B over {SteadyFor.TotalSeconds:N0} s, produced in batches of 50 every 10 ms) to PostgreSQL: ");
        md.AppendLine($"per record, PostgreSQL's clock at insert minus the publish time: **p50 {p50:N1} ms, p99 {p99:N1} ms**, max {max:N1} ms.");
        return md.ToString();
    }

    // One round of every pair on a topic of `records` records; `runs` null for the warm-up.
    private static async Task RoundAsync(HttpClient client, Targets t, string round, string source, int records, Dictionary<string, (List<RunRate> Plain, List<RunRate> Sluice)>? runs, BenchContext context, CancellationToken cancellationToken)
    {
        async Task Pair(string sink, Func<Task<RunRate>> plain, Func<Task<RunRate>> sluice)
        {
            if (!Sinks.Contains(sink))
            {
                return;
            }

            var p = await plain();
            var r = await sluice();
            runs?[sink].Plain.Add(p);
            runs?[sink].Sluice.Add(r);
            context.Progress.WriteLine($"round {round}: {sink} plain {p.Steady:N0}/s steady, {p.FromStart:N0}/s from start; sluice {r.Steady:N0}/s steady, {r.FromStart:N0}/s from start, first batch at {r.FirstBatch.TotalMilliseconds:N0} ms");
        }

        await Pair("postgresql", () => PlainPostgresAsync(t.Pg, $"plain{round}", source, records, cancellationToken), () => ReplicateAsync(client, $"pg{round}", source, records, new JsonObject
        {
            ["type"] = "postgresql",
            ["connectionString"] = t.Pg.ConnectionString.Replace(t.Pg.Password, "${secret:pg}", StringComparison.Ordinal),
            ["table"] = $"copy{round}",
        }, new JsonObject { ["pg"] = t.Pg.Password }, cancellationToken));
        await Pair("http (json)", () => PlainHttpAsync(t.Bare.BaseUrl + "/bare", source, records, cancellationToken), () => ReplicateAsync(client, $"http{round}", source, records, new JsonObject
        {
            ["type"] = "http",
            ["url"] = t.Bare.BaseUrl + "/bare",
            ["format"] = "json",
        }, null, cancellationToken));
        await Pair("amqp (RabbitMQ)", () => t.Amqp.PlainAsync($"plain{round}", records, Partitions, Batch, Value, cancellationToken), async () =>
        {
            await t.Amqp.PrepareAsync($"copy{round}");
            var rate = await ReplicateAsync(client, $"amqp{round}", source, records, new JsonObject
            {
                ["type"] = "amqp",
                ["uri"] = t.Rabbit.Uri.ToString().Replace(t.Rabbit.Password, "${secret:amqp}", StringComparison.Ordinal),
                ["exchange"] = AmqpBaseline.Exchange,
                ["routingKey"] = $"copy{round}",
            }, new JsonObject { ["amqp"] = t.Rabbit.Password }, cancellationToken);
            await t.Amqp.DeleteAsync($"copy{round}");
            return rate;
        });
        await Pair("nats (JetStream)", () => t.Nats.PlainAsync($"plain{round}", records, Partitions, Batch, Value, cancellationToken), async () =>
        {
            await t.Nats.PrepareAsync($"copy{round}");
            var rate = await ReplicateAsync(client, $"nats{round}", source, records, new JsonObject
            {
                ["type"] = "nats",
                ["url"] = t.NatsServer.Url.Replace(t.NatsServer.Password, "${secret:nats}", StringComparison.Ordinal),
                ["subject"] = $"copy{round}",
            }, new JsonObject { ["nats"] = t.NatsServer.Password }, cancellationToken);
            await t.Nats.DeleteAsync($"copy{round}");
            return rate;
        });
        await Pair("s3", () => S3Pair.PlainAsync(t.S3, $"plain{round}/", source, records, Partitions, Batch, Value, cancellationToken), () => ReplicateAsync(client, $"s3{round}", source, records, S3Pair.Sink(t.S3, $"sluice{round}/"), S3Pair.Secrets(t.S3), cancellationToken));
        await Pair("kafka", () => KafkaPair.PlainAsync(t.Kafka, $"plain{round}", source, records, Partitions, Batch, Value, cancellationToken), () =>
        {
            t.Kafka.CreateTopic($"copy{round}", Partitions);
            return ReplicateAsync(client, $"kafka{round}", source, records, KafkaPair.Sink(t.Kafka, $"copy{round}"), null, cancellationToken);
        });
    }

    private static string Row(string sink, List<RunRate> plain, List<RunRate> sluice)
    {
        var plainSteady = plain.Average(r => r.Steady);
        var sluiceSteady = sluice.Average(r => r.Steady);
        var fromStart = sluice.Average(r => r.FromStart) / plain.Average(r => r.FromStart);
        return $"| {sink} | {plainSteady:N0} ({Each(plain)}) | {sluiceSteady:N0} ({Each(sluice)}) | **{sluiceSteady / plainSteady:0.00}** | {fromStart:0.00} | " +
            $"{plain.Average(r => r.FirstBatch.TotalMilliseconds):N0} ms / {sluice.Average(r => r.FirstBatch.TotalMilliseconds):N0} ms |";
    }

    private static string Each(List<RunRate> rates) => string.Join(", ", rates.Select(r => r.Steady.ToString("N0", CultureInfo.InvariantCulture)));

    private static byte[] Value(int i)
    {
        var value = new byte[ValueBytes];
        Array.Fill(value, (byte)('a' + (i % 26)));
        return value;
    }

    private static async Task FillAsync(HttpClient client, string topic, int records, CancellationToken cancellationToken)
    {
        await Ok(await client.PutAsJsonAsync($"/v1/topics/{topic}", new { partitions = Partitions }, cancellationToken));
        for (var start = 0; start < records; start += 1000)
        {
            var messages = Enumerable.Range(start, 1000).Select(i => new { key = $"k{i}", value = Encoding.ASCII.GetString(Value(i)), partition = i % Partitions, headers = new Dictionary<string, string> { ["n"] = i.ToString(CultureInfo.InvariantCulture) } });
            await Ok(await client.PostAsJsonAsync($"/v1/topics/{topic}/batch", new { messages }, cancellationToken));
        }
    }

    // Records per second from registration until every record is acknowledged by the target, and from the first
    // acknowledgement seen to the last.
    private static async Task<RunRate> ReplicateAsync(HttpClient client, string name, string source, int records, JsonObject sink, JsonObject? secrets, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["name"] = name,
            ["source"] = new JsonObject { ["topic"] = source, ["position"] = "earliest" },
            ["sink"] = sink,
            ["batch"] = new JsonObject { ["maxRecords"] = Batch, ["maxBytes"] = 4 * 1024 * 1024 },
        };
        if (secrets is not null)
        {
            body["secrets"] = secrets;
        }

        var clock = Stopwatch.StartNew();
        await Ok(await client.PostAsync("/v1/replicators", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken));
        (TimeSpan At, long Written)? first = null;
        while (true)
        {
            var status = JsonDocument.Parse(await client.GetStringAsync($"/v1/replicators/{name}/status", cancellationToken)).RootElement;
            var written = status.GetProperty("recordsWritten").GetInt64();
            var now = clock.Elapsed;
            if (written > 0 && first is null)
            {
                first = (now, written);
            }

            if (written >= records)
            {
                await Ok(await client.PostAsync($"/v1/replicators/{name}/stop", null, cancellationToken));
                return RunRate.Of(records, now, first!.Value.At, first.Value.Written);
            }

            if (clock.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException($"replicator {name} did not finish: {status}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static async Task<RunRate> PlainPostgresAsync(PostgresServer pg, string table, string source, int records, CancellationToken cancellationToken)
    {
        await using (var connection = new NpgsqlConnection(pg.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand(
                $"CREATE TABLE \"{table}\" (topic text NOT NULL, \"partition\" integer NOT NULL, \"offset\" bigint NOT NULL, key bytea, value bytea, headers jsonb NOT NULL, " +
                "publish_time timestamptz NOT NULL, PRIMARY KEY (topic, \"partition\", \"offset\"))", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var clock = new RunClock();
        await Task.WhenAll(Enumerable.Range(0, Partitions).Select(async p =>
        {
            await using var connection = new NpgsqlConnection(pg.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            for (var start = 0; start < records / Partitions; start += Batch)
            {
                var n = Math.Min(Batch, (records / Partitions) - start);
                var now = DateTime.UtcNow;
                await using var insert = new NpgsqlCommand(
                    $"INSERT INTO \"{table}\" (topic, \"partition\", \"offset\", key, value, headers, publish_time) " +
                    "SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bytea[], $5::bytea[], $6::jsonb[], $7::timestamptz[]) ON CONFLICT DO NOTHING", connection);
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Repeat(source, n).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Repeat(p, n).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Range(start, n).Select(o => (long)o).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Range(start, n).Select(i => Encoding.ASCII.GetBytes($"k{(i * Partitions) + p}")).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Range(start, n).Select(Value).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Range(start, n).Select(i => $"{{\"n\":\"{i}\"}}").ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
                insert.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Repeat(now, n).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                await insert.ExecuteNonQueryAsync(cancellationToken);
                clock.Done(n);
            }
        }));
        return clock.Finish(records);
    }

    private static async Task<RunRate> PlainHttpAsync(string url, string source, int records, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        var clock = new RunClock();
        await Task.WhenAll(Enumerable.Range(0, Partitions).Select(async p =>
        {
            for (var start = 0; start < records / Partitions; start += Batch)
            {
                var n = Math.Min(Batch, (records / Partitions) - start);
                var body = JsonBatch(source, p, start, n);
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new("application/json");
                using var response = await http.PostAsync(url, content, cancellationToken);
                response.EnsureSuccessStatusCode();
                clock.Done(n);
            }
        }));
        return clock.Finish(records);
    }

    // The record shape the http sink sends, written the plain way.
    private static byte[] JsonBatch(string topic, int partition, int start, int n)
    {
        var buffer = new ArrayBufferWriter<byte>(n * (ValueBytes + 200));
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartArray();
        for (var i = start; i < start + n; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("topic", topic);
            writer.WriteNumber("partition", partition);
            writer.WriteNumber("offset", i);
            writer.WriteString("key", $"k{(i * Partitions) + partition}");
            writer.WriteString("value", Value(i));
            writer.WriteStartObject("headers");
            writer.WriteString("n", i.ToString(CultureInfo.InvariantCulture));
            writer.WriteEndObject();
            writer.WriteString("publishTime", DateTimeOffset.UtcNow);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task<(double P50, double P99, double Max, int Produced)> SteadyLagAsync(HttpClient client, PostgresServer pg, CancellationToken cancellationToken)
    {
        const string Topic = "bench/repl/steady";
        await Ok(await client.PutAsJsonAsync($"/v1/topics/{Topic}", new { partitions = Partitions }, cancellationToken));
        await using (var connection = new NpgsqlConnection(pg.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand(
                "CREATE TABLE lagged (topic text NOT NULL, \"partition\" integer NOT NULL, \"offset\" bigint NOT NULL, key bytea, value bytea, headers jsonb NOT NULL, " +
                "publish_time timestamptz NOT NULL, arrived timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (topic, \"partition\", \"offset\"))", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var body = new JsonObject
        {
            ["name"] = "steady",
            ["source"] = new JsonObject { ["topic"] = Topic },
            ["sink"] = new JsonObject { ["type"] = "postgresql", ["connectionString"] = pg.ConnectionString.Replace(pg.Password, "${secret:pg}", StringComparison.Ordinal), ["table"] = "lagged" },
            ["secrets"] = new JsonObject { ["pg"] = pg.Password },
        };
        await Ok(await client.PostAsync("/v1/replicators", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken));

        // Open loop: a batch of 50 every 10 ms, sent whether or not the previous one was answered.
        const int PerTick = SteadyRate / 100;
        var ticks = (int)(SteadyFor.TotalMilliseconds / 10);
        var sends = new List<Task>(ticks);
        var clock = Stopwatch.StartNew();
        var payload = Encoding.ASCII.GetString(Value(0));
        for (var t = 0; t < ticks; t++)
        {
            var due = TimeSpan.FromMilliseconds(t * 10);
            if (clock.Elapsed < due)
            {
                await Task.Delay(due - clock.Elapsed, cancellationToken);
            }

            var messages = Enumerable.Range(0, PerTick).Select(i => new { key = $"s{t}-{i}", value = payload }).ToArray();
            sends.Add(client.PostAsJsonAsync($"/v1/topics/{Topic}/batch", new { messages }, cancellationToken).ContinueWith(r => r.Result.EnsureSuccessStatusCode(), TaskScheduler.Default));
        }

        await Task.WhenAll(sends);
        var produced = ticks * PerTick;
        while (true)
        {
            var status = JsonDocument.Parse(await client.GetStringAsync("/v1/replicators/steady/status", cancellationToken)).RootElement;
            if (status.GetProperty("recordsWritten").GetInt64() >= produced)
            {
                break;
            }

            await Task.Delay(100, cancellationToken);
        }

        await using var read = new NpgsqlConnection(pg.ConnectionString);
        await read.OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms) " +
            "FROM (SELECT extract(epoch FROM arrived - publish_time) * 1000 AS ms FROM lagged) l", read);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetDouble(0), reader.GetDouble(1), Convert.ToDouble(reader.GetValue(2), CultureInfo.InvariantCulture), produced);
    }

    private static async Task Ok(HttpResponseMessage response)
    {
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    private sealed record Targets(PostgresServer Pg, ServerProcess Bare, RabbitMqServer Rabbit, AmqpBaseline Amqp, NatsServer NatsServer, NatsBaseline Nats, S3rverServer S3, KafkaMockCluster Kafka);
}
