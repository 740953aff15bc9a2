using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Sluice.Kafka;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Fleet;

/// <summary>
/// The gateway on Kafka next to plain Kafka clients: what is produced over HTTP is read by a plain consumer with the
/// same key, headers and partition a plain producer would pick, and what a plain producer writes is pulled over HTTP.
/// </summary>
[Trait("Backend", "OwnKafka")]
public sealed class KafkaInteropTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _gateway = null!;
    private string _bootstrap = "";

    public async Task InitializeAsync()
    {
        _gateway = new ServerProcess(["--backend", "kafka", "--kafka-mock-brokers", "3"]);
        await _gateway.StartAsync();
        var health = await SluiceApi.ReadJsonAsync(await _gateway.Client.GetAsync("/healthz"));
        _bootstrap = health.GetProperty("kafkaBootstrap").GetString()!;
        KafkaNative.EnsureLoaded();
    }

    public async Task DisposeAsync()
    {
        _gateway.WriteOutputTo(output, 30);
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task ProducedOverHttp_IsReadByAPlainConsumer_WithKeyHeadersAndKafkasPartition()
    {
        var topic = await NewTopicAsync(4);
        var produced = await _gateway.Client.ProduceAsync(topic, "over-http", key: "customer-42", headers: new Dictionary<string, string> { ["trace"] = "t-1" });
        var partition = produced.GetProperty("partition").GetInt32();
        var offset = produced.GetProperty("offset").GetInt64();

        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = _bootstrap, GroupId = "plain-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false }).Build();
        consumer.Assign(new TopicPartitionOffset(KafkaName(topic), partition, offset));
        var record = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new TimeoutException("the plain consumer got nothing");

        Assert.Equal("over-http", Encoding.UTF8.GetString(record.Message.Value));
        Assert.Equal("customer-42", Encoding.UTF8.GetString(record.Message.Key));
        var trace = Assert.Single(record.Message.Headers, h => h.Key == "trace");
        Assert.Equal("t-1", Encoding.UTF8.GetString(trace.GetValueBytes()));

        // A plain producer with Kafka's default Java partitioner (murmur2) sends the same key to the same partition.
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = _bootstrap, Partitioner = Partitioner.Murmur2Random }).Build();
        var plain = await producer.ProduceAsync(KafkaName(topic), new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes("customer-42"), Value = [1] });
        Assert.Equal(partition, plain.Partition.Value);
    }

    [Fact]
    public async Task ProducedByAPlainProducer_IsPulledOverHttp_WithKeyAndHeaders()
    {
        var topic = await NewTopicAsync(2);
        await _gateway.Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = _bootstrap, Acks = Acks.All, EnableIdempotence = true }).Build();
        await producer.ProduceAsync(KafkaName(topic), new Message<byte[], byte[]>
        {
            Key = Encoding.UTF8.GetBytes("k-7"),
            Value = Encoding.UTF8.GetBytes("from-kafka"),
            Headers = new Headers { { "origin", Encoding.UTF8.GetBytes("plain") } },
        });

        var pulled = new List<JsonElement>();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (pulled.Count == 0)
        {
            guard.Token.ThrowIfCancellationRequested();
            pulled.AddRange(await _gateway.Client.PullAsync(topic, "s", waitMs: 1000));
        }

        var message = Assert.Single(pulled);
        Assert.Equal("from-kafka", message.Value());
        Assert.Equal("k-7", message.GetProperty("key").GetString());
        Assert.Equal("plain", message.GetProperty("headers").GetProperty("origin").GetString());
    }

    // The README's mapping: parts joined by '.', '_' written '__' and '.' written '_.'.
    private static string KafkaName(string topic)
        => string.Join('.', topic.Split('/').Select(p => p.Replace("_", "__", StringComparison.Ordinal).Replace(".", "_.", StringComparison.Ordinal)));

    private async Task<string> NewTopicAsync(int partitions)
    {
        var topic = SluiceApi.NewTopic("interop");
        using var put = await _gateway.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions }));
        put.EnsureSuccessStatusCode();
        return topic;
    }
}
