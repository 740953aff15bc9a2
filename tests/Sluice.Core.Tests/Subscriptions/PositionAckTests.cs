using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>Acks by position (partition, offset), as Kafka-Pixy clients send them: any lease of the message is settled.</summary>
public sealed class PositionAckTests
{
    [Fact]
    public async Task AckByPosition_AcksTheLease_AndTheCursorAdvances()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 2);
        await h.SubscribeAsync();
        await h.ProduceAsync(3, partition: 1);
        await using var c = await h.OpenAsync("c");
        var got = await EngineHarness.ReceiveAtLeastAsync(c, 3);

        var result = await h.Engine.AckPositionsAsync(EngineHarness.Topic, "sub", [new MessagePosition(1, 0), new MessagePosition(1, 1), new MessagePosition(1, 2)]);

        Assert.Equal(3, result.Succeeded);
        Assert.Empty(result.Unknown);
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(3, info!.Partitions[1].CommittedOffset);
        Assert.Equal(0, info.InFlight);
        Assert.Equal(3, got.Count);
    }

    [Fact]
    public async Task AckByPosition_OfAMessageWaitingForRedelivery_AcksIt_AndItIsNotDeliveredAgain()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var c = await h.OpenAsync("c");
        var first = await EngineHarness.ReceiveAtLeastAsync(c, 2);
        await h.NackAsync(first, TimeSpan.Zero);

        // Both wait for redelivery now; the client acks offset 0 by position (it had processed it after all).
        var result = await h.Engine.AckPositionsAsync(EngineHarness.Topic, "sub", [new MessagePosition(0, 0)]);
        Assert.Equal(1, result.Succeeded);

        var again = await EngineHarness.ReceiveAtLeastAsync(c, 1);
        Assert.Equal("0:1", Assert.Single(again).MessageId);
        Assert.Equal(2, again[0].DeliveryAttempt);
    }

    [Fact]
    public async Task AckByPosition_NeverDeliveredOrAlreadyAcked_IsUnknown_AndNackOfAPositionIdIsRefused()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var c = await h.OpenAsync("c");
        var got = await c.ReceiveAsync(1, EngineHarness.LongWait).AsTask().WaitAsync(EngineHarness.HangGuard);
        Assert.Equal("0:0", Assert.Single(got).MessageId);

        var result = await h.Engine.AckPositionsAsync(EngineHarness.Topic, "sub", [new MessagePosition(0, 0), new MessagePosition(0, 0), new MessagePosition(0, 5)]);
        Assert.Equal(1, result.Succeeded);
        Assert.Equal(2, result.Unknown.Count);
        Assert.Contains(".*.0.5.*", result.Unknown[1], StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await h.Engine.AckPositionsAsync(EngineHarness.Topic, "sub", [new MessagePosition(-1, 0)]));
    }
}
