using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// A waiting receive waits on its handle's one waiter, which carries its timeout and the caller's token; the consumer's
/// end and new messages reach it through the subscription's wake. These pin what that must keep: the wait is the whole
/// receive's, not one per wake, a wake for nothing sends it back to sleep, and a receive that reuses the waiter is not
/// ended by what ended the one before (its timer, its token).
/// </summary>
public sealed class ReceiveWaitTests
{
    [Fact]
    public async Task Receive_WithNothingToTake_ReturnsEmptyAtTheEndOfItsWait_NotBefore()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        var receive = consumer.ReceiveAsync(10, TimeSpan.FromSeconds(10)).AsTask();

        h.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(receive.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(await receive.WaitAsync(EngineHarness.HangGuard));
    }

    [Fact]
    public async Task Receive_WokenForNothing_WaitsOnlyTheRestOfItsWait_AndStillGetsTheNextMessage()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        await (await h.OpenAsync("gone")).DisposeAsync();
        var receive = consumer.ReceiveAsync(10, TimeSpan.FromSeconds(40)).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 1 }));

        // The other consumer's session expires: ending a consumer wakes every waiting receive, this one for nothing.
        // Once it is parked again after that wake, it must wait what is left of its 40 s, not 40 s more. (The expiry
        // signals under the subscription's lock and then wakes every waiter for the ended consumer: a receive that parked
        // again in between, on a busy machine, is woken twice; CI saw it once. Either way it waits the rest.)
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { Wakeups: >= 1, WaitingReceivers: 1 }));
        h.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(receive.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(await receive.WaitAsync(EngineHarness.HangGuard));

        // And the consumer's next receive still wakes for a message.
        var next = consumer.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await h.ProduceAsync(1);
        Assert.Single(await next.WaitAsync(EngineHarness.HangGuard));
    }

    [Fact]
    public async Task Receive_CancelledByTheCaller_ThrowsAndLeasesNothing()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        using var cancel = new CancellationTokenSource();
        var receive = consumer.ReceiveAsync(10, EngineHarness.LongWait, cancel.Token).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(EngineHarness.HangGuard));
        Assert.False(consumer.Ended.IsCancellationRequested);

        // The consumer carries on: what is produced next goes to its next receive.
        await h.ProduceAsync(1);
        Assert.Single(await EngineHarness.ReceiveAtLeastAsync(consumer, 1));
    }

    [Fact]
    public async Task NextReceive_OnTheSameHandle_WaitsItsOwnTime_AfterOneTimedOutAndOneWasCancelled()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        var first = consumer.ReceiveAsync(10, TimeSpan.FromSeconds(10)).AsTask();
        h.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(await first.WaitAsync(EngineHarness.HangGuard));

        using (var cancel = new CancellationTokenSource())
        {
            var cancelled = consumer.ReceiveAsync(10, TimeSpan.FromSeconds(10), cancel.Token).AsTask();
            await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 1 }));
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(EngineHarness.HangGuard));
        }

        // The waiter both used goes on to this receive: the earlier timer's due time has passed and the earlier token is
        // cancelled, and neither may end it. It times out at its own 10 s, and a message before then wakes it.
        var third = consumer.ReceiveAsync(10, TimeSpan.FromSeconds(10)).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 1 }));
        h.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(third.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(await third.WaitAsync(EngineHarness.HangGuard));

        var fourth = consumer.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 1 }));
        await h.ProduceAsync(1);
        Assert.Single(await fourth.WaitAsync(EngineHarness.HangGuard));
        Assert.Equal(0, h.Counts()!.WaitingReceivers);
    }

    [Fact]
    public async Task ReceivesAtOnce_OnOneHandle_EachWaitAndEachGetsAMessage()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(type: SubscriptionType.Shared);
        await using var consumer = await h.OpenAsync("c");

        var a = consumer.ReceiveAsync(1, EngineHarness.LongWait).AsTask();
        var b = consumer.ReceiveAsync(1, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 2 }));
        await h.ProduceAsync(2);

        Assert.Single(await a.WaitAsync(EngineHarness.HangGuard));
        Assert.Single(await b.WaitAsync(EngineHarness.HangGuard));
    }

    [Fact]
    public async Task Receive_NegativeWait_IsRefused()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => consumer.ReceiveAsync(10, TimeSpan.FromMilliseconds(-2)).AsTask());
    }
}
