using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Kafka;

/// <summary>The kafka sink against librdkafka's mock cluster; each class has its own cluster and gateway.</summary>
public class KafkaSinkFixture : SinkFixture
{
    protected override Task<ISinkTarget> StartTargetAsync() => Task.FromResult<ISinkTarget>(new KafkaTarget());
}

public sealed class KafkaKillableFixture : KafkaSinkFixture
{
    protected override bool Killable => true;
}

public sealed class KafkaSinkTests(KafkaSinkFixture f, ITestOutputHelper output) : SinkContractTests<KafkaSinkFixture>(f, output)
{
    private KafkaTarget Target => (KafkaTarget)Fixture.Target;

    [Fact]
    public async Task Records_KeepPartitionKeyAndTimestamp_WithTheIdempotencyKeyHeader()
    {
        var g = Fixture.Gateway;
        var topic = Gateway.NewTopic("shape");
        await g.CreateTopicAsync(topic, 2);
        await Target.PrepareAsync(topic);
        await g.ProduceAsync(topic, TestRecord.Make(6));
        var name = SinkScenarios.NewName();
        await g.Client.CreateReplicatorAsync(SinkScenarios.Body(name, topic, Target));
        await Target.WaitForRecordsAsync(topic, 6);
        var source = await g.Client.SendAsync(HttpMethod.Get, $"/v1/topics/{topic}/messages?partition=0&offset=0&max=100");
        var sourceTimes = source.Body.GetProperty("messages").EnumerateArray().ToDictionary(m => m.GetProperty("offset").GetInt64(), m => DateTimeOffset.Parse(m.GetProperty("publishTime").GetString()!, System.Globalization.CultureInfo.InvariantCulture));

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = Target.Bootstrap, GroupId = "shape", EnableAutoCommit = false }).SetLogHandler((_, _) => { }).Build();
        var seen = 0;
        for (var p = 0; p < 2; p++)
        {
            var partition = new TopicPartition(KafkaTarget.TopicOf(topic), new Partition(p));
            var end = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(30)).High.Value;
            consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
            for (var read = 0L; read < end;)
            {
                var m = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException($"nothing read from {partition}");
                read++;
                seen++;
                var key = Encoding.UTF8.GetString(m.Message.Headers.GetLastBytes("sluice-idempotency-key")).Split('/');

                // partitioning "source": the record is in the partition of the same number, at the same position.
                Assert.Equal(topic, string.Join('/', key[..3]));
                Assert.Equal(p, int.Parse(key[3], System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(TimestampType.CreateTime, m.Message.Timestamp.Type);
                if (p == 0)
                {
                    var offset = long.Parse(key[4], System.Globalization.CultureInfo.InvariantCulture);
                    Assert.True(sourceTimes[offset].ToUnixTimeMilliseconds() == m.Message.Timestamp.UnixTimestampMs, $"offset {offset}: published {sourceTimes[offset]:O}, Kafka timestamp {m.Message.Timestamp.UnixTimestampMs}");
                }
            }
        }

        Assert.Equal(6, seen);
    }

    [Fact]
    public async Task SettingsTheSinkOwnsOrThatReachTheHost_AreRefusedNamingTheField()
    {
        foreach (var (field, value) in new[] { ("acks", "1"), ("enable.idempotence", "false"), ("bootstrap.servers", "elsewhere:9092"), ("ssl.key.location", "/etc/shadow"), ("sasl.kerberos.kinit.cmd", "touch /tmp/x"), ("plugin.library.paths", "/tmp/evil.so") })
        {
            var body = SinkScenarios.Body(SinkScenarios.NewName(), Gateway.NewTopic("bad"), Target);
            ((JsonObject)body["sink"]!["config"]!)[field] = value;
            var (status, _, text) = await Fixture.Gateway.Client.SendAsync(HttpMethod.Post, "/v1/replicators", body.ToJsonString());
            Assert.True(status == HttpStatusCode.BadRequest, $"{field}: {(int)status} {text}");
            Assert.Contains("sink.config", text, StringComparison.Ordinal);
            Assert.True(text.Contains(field, StringComparison.Ordinal), $"{field}: {text}");
        }

        var badValue = SinkScenarios.Body(SinkScenarios.NewName(), Gateway.NewTopic("bad"), Target);
        ((JsonObject)badValue["sink"]!["config"]!)["request.timeout.ms"] = "soon";
        var refused = await Fixture.Gateway.Client.SendAsync(HttpMethod.Post, "/v1/replicators", badValue.ToJsonString());
        Assert.True(refused.Status == HttpStatusCode.BadRequest, refused.Text);
        Assert.Contains("request.timeout.ms", refused.Text, StringComparison.Ordinal);
    }
}

public sealed class KafkaSinkOutageTests(KafkaSinkFixture f, ITestOutputHelper output) : IClassFixture<KafkaSinkFixture>
{
    [Fact]
    public Task TargetDownFor20s_ShowsRetryingWithTheError_ThenCatchesUp() => SinkScenarios.TargetDownThenCatchesUpAsync(f, output);
}

public sealed class KafkaSinkCrashTests(KafkaKillableFixture f, ITestOutputHelper output) : IClassFixture<KafkaKillableFixture>
{
    [Fact]
    public async Task GatewayKilledMidStream_RestartLosesNothing_DuplicatesCarryTheirIdempotencyKey()
    {
        await SinkScenarios.KilledMidStreamLosesNothingAsync(f, output);

        // Kafka keeps what was written before the kill and again after it: any duplicate is the same record (same key).
        var topic = ((KafkaTarget)f.Target).LastPrepared!;
        var got = await f.Target.ReadAsync(topic);
        foreach (var copies in got.GroupBy(r => (r.Partition, r.Offset)).Where(c => c.Count() > 1))
        {
            Assert.Single(copies.Select(r => (r.Key, r.Value)).Distinct());
        }

        output.WriteLine($"{got.Count - got.Select(r => (r.Partition, r.Offset)).Distinct().Count()} duplicates of {got.Count} records");
    }
}
