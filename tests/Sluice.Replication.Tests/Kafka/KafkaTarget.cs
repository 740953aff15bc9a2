using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Sluice.Kafka;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Kafka;

/// <summary>
/// The kafka sink's target: librdkafka's mock cluster (real Kafka protocol on loopback), hosted by the test process, so
/// it outlives a killed gateway; one broker, taken down and up for the outage. Topics <c>{namespace}.{topic}</c> with 4
/// partitions, read back with a plain Confluent.Kafka consumer: source topic, partition and offset come from the
/// <c>sluice-idempotency-key</c> header. The mock enforces no size limit, so the refused record is one over the
/// producer's <c>message.max.bytes</c>, set in the sink's config as a cluster's limit would be: the same
/// MSG_SIZE_TOO_LARGE. It has no authentication either: the secret is a SASL password it never asks for.
/// </summary>
public sealed class KafkaTarget : ISinkTarget
{
    public const int MaxMessageBytes = 256 * 1024;

    private readonly KafkaMockCluster _cluster = KafkaMockCluster.Start(1);

    public IReadOnlyDictionary<string, string> Secrets { get; } = new Dictionary<string, string> { ["kp"] = "kafka-pw-" + Guid.NewGuid().ToString("N") };

    public bool Deduplicates => false;

    public string Poison { get; } = "poison-" + new string('p', MaxMessageBytes + 1024);

    public string Bootstrap => _cluster.BootstrapServers;

    public static string TopicOf(string topic)
    {
        var parts = topic.Split('/');
        return $"{parts[1]}.{parts[2]}";
    }

    public JsonObject Sink() => new()
    {
        ["type"] = "kafka",
        ["bootstrap"] = _cluster.BootstrapServers,
        ["topic"] = "{namespace}.{topic}",
        ["config"] = new JsonObject
        {
            ["message.max.bytes"] = MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["sasl.username"] = "sluice",
            ["sasl.password"] = "${secret:kp}",
        },
    };

    /// <summary>The source topic of the last <see cref="PrepareAsync"/>.</summary>
    public string? LastPrepared { get; private set; }

    public Task PrepareAsync(string topic, string? poison = null)
    {
        _cluster.CreateTopic(TopicOf(topic), 4);
        LastPrepared = topic;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic) => Task.Run(() => Read(_cluster.BootstrapServers, TopicOf(topic)));

    /// <summary>Every record of <paramref name="kafkaTopic"/>, partition after partition, each in offset order.</summary>
    public static IReadOnlyList<TargetRecord> Read(string bootstrap, string kafkaTopic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "reader",
            EnableAutoCommit = false,
            FetchMaxBytes = 8 * 1024 * 1024,
        }).SetLogHandler((_, _) => { }).Build();
        var result = new List<TargetRecord>();
        for (var p = 0; p < 4; p++)
        {
            var partition = new TopicPartition(kafkaTopic, new Partition(p));
            var end = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(30)).High.Value;
            if (end == 0)
            {
                continue;
            }

            consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                var m = consumer.Consume(TimeSpan.FromSeconds(1));
                if (m is { IsPartitionEOF: false, Message: { } message })
                {
                    result.Add(Record(message));
                    if (m.Offset.Value + 1 >= end)
                    {
                        break;
                    }
                }

                Assert.True(DateTime.UtcNow < deadline, $"reading {partition} up to {end} took over 60 s");
            }
        }

        return result;
    }

    public Task StopAsync()
    {
        _cluster.SetBrokerUp(1, up: false);
        return Task.CompletedTask;
    }

    public Task StartAsync()
    {
        _cluster.SetBrokerUp(1, up: true);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _cluster.Dispose();
        return ValueTask.CompletedTask;
    }

    private static TargetRecord Record(Message<byte[]?, byte[]?> message)
    {
        string? idempotencyKey = null;
        var headers = new Dictionary<string, string>();
        foreach (var h in message.Headers)
        {
            var value = Encoding.UTF8.GetString(h.GetValueBytes());
            if (h.Key == "sluice-idempotency-key")
            {
                idempotencyKey = value;
            }
            else
            {
                headers[h.Key] = value;
            }
        }

        // tenant/namespace/topic/partition/offset
        var parts = (idempotencyKey ?? throw new InvalidOperationException("a record without sluice-idempotency-key")).Split('/');
        return new TargetRecord(
            string.Join('/', parts[..3]),
            int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(parts[4], System.Globalization.CultureInfo.InvariantCulture),
            message.Key is null ? null : Encoding.UTF8.GetString(message.Key),
            message.Value is null ? null : Encoding.UTF8.GetString(message.Value),
            headers);
    }
}
