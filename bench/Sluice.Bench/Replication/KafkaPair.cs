using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Sluice.Kafka;

namespace Sluice.Bench.Replication;

/// <summary>
/// The kafka pair of the replication suite, against librdkafka's mock cluster hosted by the bench process: the
/// replicator's sink settings, and the baseline: a plain Confluent.Kafka producer with the sink's durability (acks=all,
/// idempotent) producing the same records (key, value, headers, timestamp) in batches of the same size, one writer per
/// partition, each batch's delivery reports awaited before the next, as the replicator's one batch in flight per partition.
/// </summary>
internal static class KafkaPair
{
    public static JsonObject Sink(KafkaMockCluster cluster, string topic) => new()
    {
        ["type"] = "kafka",
        ["bootstrap"] = cluster.BootstrapServers,
        ["topic"] = topic,
    };

    public static async Task<RunRate> PlainAsync(KafkaMockCluster cluster, string topic, string sourceTopic, int records, int partitions, int batch, Func<int, byte[]> value, CancellationToken cancellationToken)
    {
        cluster.CreateTopic(topic, partitions);
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            MessageTimeoutMs = 30_000,
        }).SetLogHandler((_, _) => { }).Build();
        var clock = new RunClock();
        await Task.WhenAll(Enumerable.Range(0, partitions).Select(async p =>
        {
            for (var start = 0; start < records / partitions; start += batch)
            {
                var n = Math.Min(batch, (records / partitions) - start);
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var pending = n;
                var failed = 0;
                for (var i = start; i < start + n; i++)
                {
                    var headers = new Headers
                    {
                        { "n", Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture)) },
                        { "sluice-idempotency-key", Encoding.UTF8.GetBytes($"{sourceTopic}/{p}/{i}") },
                    };
                    var message = new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes($"k{(i * partitions) + p}"), Value = value(i), Headers = headers, Timestamp = new Timestamp(DateTimeOffset.UtcNow) };
                    producer.Produce(new TopicPartition(topic, new Partition(p)), message, r =>
                    {
                        if (r.Error.IsError)
                        {
                            Interlocked.Increment(ref failed);
                        }

                        if (Interlocked.Decrement(ref pending) == 0)
                        {
                            done.TrySetResult();
                        }
                    });
                }

                await done.Task.WaitAsync(cancellationToken);
                if (failed > 0)
                {
                    throw new InvalidOperationException($"{failed} records of a batch to {topic} were not delivered");
                }

                clock.Done(n);
            }
        }));
        return clock.Finish(records);
    }
}
