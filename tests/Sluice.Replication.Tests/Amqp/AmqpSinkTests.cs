using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Amqp;

/// <summary>The amqp sink against a real RabbitMQ started by the test; each class has its own node and gateway.</summary>
public class AmqpFixture : SinkFixture
{
    protected override async Task<ISinkTarget> StartTargetAsync() => new AmqpTarget(await RabbitMqServer.StartNewAsync());
}

public sealed class AmqpKillableFixture : AmqpFixture
{
    protected override bool Killable => true;
}

public sealed class AmqpSinkTests(AmqpFixture f, ITestOutputHelper output) : SinkContractTests<AmqpFixture>(f, output)
{
    private AmqpTarget Target => (AmqpTarget)Fixture.Target;

    [Fact]
    public async Task Messages_ArePersistentWithTheIdempotencyKeyAsMessageId_AndKeepKeyAndPublishTime()
    {
        var topic = Gateway.NewTopic("props");
        await Fixture.Gateway.CreateTopicAsync(topic, 1);
        await Target.PrepareAsync(topic);
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await Fixture.Gateway.ProduceAsync(topic, TestRecord.Make(3));
        await Fixture.Gateway.Client.CreateReplicatorAsync(SinkScenarios.Body(SinkScenarios.NewName(), topic, Target));
        await Target.WaitForRecordsAsync(topic, 3);
        var deliveries = await Target.DeliveriesAsync(AmqpTarget.RoutingKey(topic));
        foreach (var d in deliveries)
        {
            Assert.Equal($"{topic}/0/{d.Record.Offset}", d.MessageId);
            Assert.True(d.Persistent, "delivery mode should be 2 (persistent)");
            var publishTime = DateTimeOffset.Parse(d.PublishTime!, CultureInfo.InvariantCulture);
            Assert.InRange(publishTime, before, DateTimeOffset.UtcNow.AddMinutes(1));
            Assert.Equal(publishTime.ToUnixTimeSeconds(), d.Timestamp);
            Assert.Equal($"k{d.Record.Offset}", d.Record.Key);
        }
    }

    [Fact]
    public async Task ExchangeTypeGiven_DeclaresTheExchange_AndUnroutableMessagesRetryUntilAQueueIsBound()
    {
        var topic = Gateway.NewTopic("declare");
        await Fixture.Gateway.CreateTopicAsync(topic, 1);
        await Fixture.Gateway.ProduceAsync(topic, TestRecord.Make(5));
        var name = SinkScenarios.NewName();
        var exchange = "x-" + name;
        var body = SinkScenarios.Body(name, topic, Target, retry: new JsonObject { ["initialIntervalMs"] = 200, ["maxIntervalMs"] = 1000 });
        body["sink"]!["exchange"] = exchange;
        body["sink"]!["exchangeType"] = "topic";
        await Fixture.Gateway.Client.CreateReplicatorAsync(body);
        try
        {
            // Declared by the sink, but no queue is bound yet: the broker returns every message, and nothing is dropped.
            var retrying = await Fixture.Gateway.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "retrying");
            Assert.Contains("unroutable", retrying.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.Empty(await Target.ReadAsync(topic));

            await Target.BindQueueAsync(exchange, AmqpTarget.RoutingKey(topic));
            var got = await Target.WaitForRecordsAsync(topic, 5);
            Assert.Equal(5, got.Select(r => r.Offset).Distinct().Count());
            await Fixture.Gateway.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "running" && s.GetProperty("lag").GetInt64() == 0);
        }
        catch
        {
            Fixture.Gateway.WriteOutputTo(Output);
            throw;
        }
    }
}

public sealed class AmqpOutageTests(AmqpFixture f, ITestOutputHelper output) : IClassFixture<AmqpFixture>
{
    [Fact]
    public Task TargetDownFor20s_ShowsRetryingWithTheError_ThenCatchesUp() => SinkScenarios.TargetDownThenCatchesUpAsync(f, output);
}

public sealed class AmqpCrashTests(AmqpKillableFixture f, ITestOutputHelper output) : IClassFixture<AmqpKillableFixture>
{
    [Fact]
    public async Task GatewayKilledMidStream_RestartLosesNothing_AndCopiesCarryTheSameMessageId()
    {
        await SinkScenarios.KilledMidStreamLosesNothingAsync(f, output);

        // RabbitMQ keeps what was sent twice (written before the kill, not yet acked); each copy names its record.
        var target = (AmqpTarget)f.Target;
        foreach (var queue in target.Queues)
        {
            var deliveries = await target.DeliveriesAsync(queue);
            Assert.All(deliveries, d => Assert.Equal($"{d.Record.Topic}/{d.Record.Partition}/{d.Record.Offset}", d.MessageId));
            var copies = deliveries.Count - deliveries.Select(d => d.MessageId).Distinct().Count();
            output.WriteLine($"{queue}: {deliveries.Count} messages, {copies} of them copies of a message id already there");
        }
    }
}
