using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// <see cref="ISubscriptionConsumer.HoldNewMessages"/>: a stream that acks what it writes takes new messages held, not
/// leased. Held messages must stay out of other consumers' reach with no deadline, move the cursor only when acked
/// (once), come back for redelivery when returned or when the handle goes, count against the unacked bound, and be
/// dropped rather than misapplied after a seek.
/// </summary>
public sealed class HeldDeliveryTests
{
    [Fact]
    public async Task Held_StayWithTheHolderPastTheDeadline_AndMoveTheCursorOnlyWhenAcked_Once()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { AckDeadline = TimeSpan.FromSeconds(5) });
        await h.ProduceAsync(5);
        await using var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        await using var other = await h.OpenAsync("other");

        var held = await EngineHarness.ReceiveAtLeastAsync(stream, 5);
        Assert.Equal([0L, 1, 2, 3, 4], held.Select(d => d.Record.Offset));
        Assert.All(held, d => Assert.Equal(1, d.DeliveryAttempt));
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(5, info!.InFlight);
        Assert.Equal(5, info.Consumers.Single(c => c.ConsumerId == "stream").InFlight);

        // No deadline: long past it, nothing comes back to anyone.
        h.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(await other.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal(3, await stream.AckAsync(held[..3], waitDurable: true));
        Assert.Equal(0, await stream.AckAsync(held[..3], waitDurable: true)); // settled once
        info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(3, info!.Partitions[0].CommittedOffset);
        Assert.Equal(2, info.InFlight);

        // The cursor was durable for the acked ones only: a crash now redelivers the two still held, first attempts.
        h.Restart();
        await using var after = await h.OpenAsync("after");
        var again = await EngineHarness.ReceiveAtLeastAsync(after, 2);
        Assert.Equal([3L, 4], again.Select(d => d.Record.Offset));
        Assert.All(again, d => Assert.Equal(1, d.DeliveryAttempt));
    }

    [Fact]
    public async Task Held_NotAcked_ComeBackWhenTheHandleGoes_AsSecondAttempts_AndLateAcksChangeNothing()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(4);
        var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        await using var other = await h.OpenAsync("other");
        var held = await EngineHarness.ReceiveAtLeastAsync(stream, 4);
        Assert.Equal(1, await stream.AckAsync(held[..1], waitDurable: false));

        await stream.DisposeAsync();
        var redelivered = await EngineHarness.ReceiveAtLeastAsync(other, 3);

        Assert.Equal([1L, 2, 3], redelivered.Select(d => d.Record.Offset));
        Assert.All(redelivered, d => Assert.Equal(2, d.DeliveryAttempt));

        // The held deliveries' ids name an earlier delivery of messages now leased again: expired, as a lease's would be.
        Assert.Equal(held.Skip(1).Select(d => d.AckId), (await h.AckAsync(held.Skip(1))).Expired);
        Assert.Equal(3, (await h.AckAsync(redelivered)).Succeeded);
        Assert.Equal(4, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
    }

    [Fact]
    public async Task ReleaseInFlight_ReturnsHeldAndLeasedAlike_ToOthersAtOnce()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var first = await h.OpenAsync("first");
        var leased = await EngineHarness.ReceiveAtLeastAsync(first, 2);
        await h.NackAsync(leased[..1], TimeSpan.Zero); // offset 0 ready for redelivery: the stream leases it
        await using var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        await h.ProduceAsync(1);

        var taken = await EngineHarness.ReceiveAtLeastAsync(stream, 2);
        Assert.Equal([(0L, 2), (2L, 1)], taken.Select(d => (d.Record.Offset, d.DeliveryAttempt)));
        await stream.ReleaseInFlightAsync();
        await using var other = await h.OpenAsync("other");
        var back = await EngineHarness.ReceiveAtLeastAsync(other, 2);

        Assert.Equal([(0L, 3), (2L, 2)], back.Select(d => (d.Record.Offset, d.DeliveryAttempt)).Order());
        Assert.Equal(0, await stream.AckAsync(taken, waitDurable: false));
    }

    [Fact]
    public async Task Seek_WhileHeld_ItsAcksAreNotApplied_AndTheHandleDoesNotReturnThem()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(3);
        var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        var before = await EngineHarness.ReceiveAtLeastAsync(stream, 3);

        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.AtOffset(0));
        Assert.Equal(0, await stream.AckAsync(before[..1], waitDurable: true));
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(0, info!.Partitions[0].CommittedOffset);
        Assert.Equal(0, info.InFlight); // the stale ones are out of the count, as ended leases are

        // From the seek's position again, once each: the stale ones are not returned beside them.
        var after = await EngineHarness.ReceiveAtLeastAsync(stream, 3);
        Assert.Equal([0L, 1, 2], after.Select(d => d.Record.Offset));
        Assert.All(after, d => Assert.Equal(1, d.DeliveryAttempt));
        await stream.DisposeAsync();
        await using var next = await h.OpenAsync("next");
        var redelivered = await EngineHarness.ReceiveAtLeastAsync(next, 3);
        Assert.Equal([(0L, 2), (1L, 2), (2L, 2)], redelivered.Select(d => (d.Record.Offset, d.DeliveryAttempt)));
        Assert.Empty(await next.ReceiveAsync(10, TimeSpan.Zero));
    }

    [Fact]
    public async Task ReturnAsync_GivesBackOnlyWhatItNames_HeldAsTheyAre_LeasedAsNacks()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(1);
        await using var first = await h.OpenAsync("first");
        await h.NackAsync(await EngineHarness.ReceiveAtLeastAsync(first, 1), TimeSpan.Zero);
        await h.ProduceAsync(2);
        await using var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        var taken = await EngineHarness.ReceiveAtLeastAsync(stream, 3);
        Assert.Equal([(0L, 2), (1L, 1), (2L, 1)], taken.Select(d => (d.Record.Offset, d.DeliveryAttempt)));

        await stream.ReturnAsync([taken[0], taken[2]]);
        await using var other = await h.OpenAsync("other");
        var back = await EngineHarness.ReceiveAtLeastAsync(other, 2);

        Assert.Equal([(0L, 3), (2L, 2)], back.Select(d => (d.Record.Offset, d.DeliveryAttempt)));
        Assert.Empty(await other.ReceiveAsync(10, TimeSpan.Zero)); // offset 1 is still the stream's
        Assert.Equal(1, await stream.AckAsync(taken, waitDurable: false));
    }

    [Fact]
    public async Task AckedOutOfTakeOrder_TheOneLeftUnacked_IsStillReturned_Once()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(300);
        var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        var held = await EngineHarness.ReceiveAtLeastAsync(stream, 300);

        // Every one but the first, newest first: the handle's queue keeps the unacked one among hundreds of acked.
        for (var i = held.Count - 1; i > 0; i--)
        {
            Assert.Equal(1, await stream.AckAsync([held[i]], waitDurable: false));
        }

        await stream.DisposeAsync();
        await using var other = await h.OpenAsync("other");
        var back = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(other, 1));
        Assert.Equal((0L, 2), (back.Record.Offset, back.DeliveryAttempt));
        Assert.Empty(await other.ReceiveAsync(10, TimeSpan.Zero));
    }

    [Fact]
    public async Task Filtered_BetweenHeldOnes_TheCursorStaysBelowTheFirstUnacked()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { Filter = Core.Filters.MessageFilter.Parse("header.region = \"eu\"") });
        await h.ProduceAsync(1, headers: [new("region", "eu")]);
        await h.ProduceAsync(3, headers: [new("region", "asia")]);
        await h.ProduceAsync(1, headers: [new("region", "eu")]);
        await using var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        var held = await EngineHarness.ReceiveAtLeastAsync(stream, 2);
        Assert.Equal([0L, 4], held.Select(d => d.Record.Offset));

        Assert.Equal(1, await stream.AckAsync(held[1..], waitDurable: false));
        Assert.Equal(0, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
        Assert.Equal(1, await stream.AckAsync(held[..1], waitDurable: false));
        Assert.Equal(5, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
    }

    [Fact]
    public async Task SubscriptionDeleted_WhileHeld_AcksApplyNothing_AndTheHandleGoesQuietly()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        var held = await EngineHarness.ReceiveAtLeastAsync(stream, 2);

        Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));
        Assert.Equal(0, await stream.AckAsync(held[..1], waitDurable: false));
        await stream.DisposeAsync();

        // A new subscription of the name starts from its own position, with nothing of the old one's.
        await h.SubscribeAsync();
        await using var next = await h.OpenAsync("next");
        Assert.Equal([(0L, 1), (1L, 1)], (await EngineHarness.ReceiveAtLeastAsync(next, 2)).Select(d => (d.Record.Offset, d.DeliveryAttempt)));
    }

    [Fact]
    public async Task Held_CountAgainstTheUnackedBound_AndAckingMakesRoom()
    {
        await using var h = new EngineHarness(new DeliveryOptions { MaxUnackedPerPartition = 4, ReadAheadMessages = 2 });
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(10);
        await using var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();

        var held = new List<Delivery>();
        for (var i = 0; i < 5; i++)
        {
            held.AddRange(await stream.ReceiveAsync(10, TimeSpan.Zero));
        }

        Assert.Equal(4, held.Count);
        Assert.Equal(4, await stream.AckAsync(held, waitDurable: false));
        var next = await EngineHarness.ReceiveAtLeastAsync(stream, 4);
        Assert.Equal([4L, 5, 6, 7], next.Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task MaxDeliveriesOfOne_AHeldMessageReturned_IsDeadLettered()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        var dlq = new Topics.TopicName("t", "other", "graveyard");
        await h.SubscribeAsync(configure: s => s with { MaxDeliveries = 1, DeadLetterTopic = dlq });
        await h.ProduceAsync(1);
        var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        Assert.Single(await EngineHarness.ReceiveAtLeastAsync(stream, 1));

        await stream.DisposeAsync();

        await EngineHarness.EventuallyAsync(async () => (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Backlog == 0);
        var dead = Assert.Single(h.Log.Records(dlq, 0));
        Assert.Contains(new KeyValuePair<string, string>("sluice-dlq-attempts", "1"), dead.Headers);
    }

    [Fact]
    public async Task KeyShared_IsStillLeased_SoItsDeadlineRedelivers()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.KeyShared, configure: s => s with { AckDeadline = TimeSpan.FromSeconds(1) });
        await h.ProduceAsync(1, key: _ => "k");
        await using var stream = await h.OpenAsync("stream");
        stream.HoldNewMessages();
        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(stream, 1));

        h.Time.Advance(TimeSpan.FromSeconds(1));
        var again = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(stream, 1));

        Assert.Equal((0L, 2), (again.Record.Offset, again.DeliveryAttempt));
        Assert.Equal([first.AckId], (await h.AckAsync([first])).Expired);
    }
}
