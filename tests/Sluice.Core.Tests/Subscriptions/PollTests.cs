using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// <see cref="ISubscriptionConsumer.Poll"/>: a stream's loop that awaits the handle's waiter itself. It must get what the
/// log already holds, wake for new messages, say "interrupted" only when it was (and never instead of ready messages),
/// end with the consumer, and leave the subscription's wake queue clean when the handle goes.
/// </summary>
public sealed class PollTests
{
    [Fact]
    public async Task Poll_GetsWhatTheLogHolds_ThenWaitsWithoutATimer_AndWakesForTheNext()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(3);
        await using var consumer = await h.OpenAsync("c");

        var first = await PollAtLeastAsync(consumer, 3);
        Assert.Equal(3, first.Count);
        await consumer.AckAsync(first, waitDurable: false); // acked: no lease deadline can wake the wait below

        var wait = await EngineHarness.ParkedAsync(h, consumer, 1);
        Assert.Equal(1, h.Counts()!.WaitingReceivers);
        h.Time.Advance(TimeSpan.FromDays(1)); // no timer: time alone never ends it
        Assert.False(wait.IsCompleted);

        await h.ProduceAsync(2);
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        Assert.Equal(2, (await PollAtLeastAsync(consumer, 2)).Count);
    }

    [Fact]
    public async Task Poll_Interrupted_WhileParkedOrBetweenCalls_AnswersInterruptedOnce_AndUnparks()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        // While parked: the wait ends, and the next call says interrupted (no wait), unparked.
        var wait = await EngineHarness.ParkedAsync(h, consumer, 1);
        consumer.Interrupt();
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        Assert.Empty(consumer.Poll(10, out var interrupted));
        Assert.Null(interrupted);
        Assert.Equal(0, h.Counts()!.WaitingReceivers);

        // Once only: the next call waits again.
        var again = await EngineHarness.ParkedAsync(h, consumer, 1);

        // Two interrupts before the next call: still one answer.
        consumer.Interrupt();
        consumer.Interrupt();
        await again.AsTask().WaitAsync(EngineHarness.HangGuard);
        await InterruptedAsync(consumer);
        _ = await EngineHarness.ParkedAsync(h, consumer, 1);

        // Interrupted with nothing parked (the caller busy writing): the next call answers so.
        consumer.Interrupt();
        await InterruptedAsync(consumer);
        _ = await EngineHarness.ParkedAsync(h, consumer, 1);
    }

    [Fact]
    public async Task Poll_Interrupted_WithMessagesReady_HandsThemOverFirst()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        var wait = await EngineHarness.ParkedAsync(h, consumer, 1);

        // Woken: the read-ahead has them (one append, so one read brings both). An interrupt now must not hide them.
        await h.Log.AppendAsync(EngineHarness.Topic, 0, [new RecordToAppend(null, "a"u8.ToArray()), new RecordToAppend(null, "b"u8.ToArray())]);
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        consumer.Interrupt();
        Assert.Equal(2, consumer.Poll(10, out var none).Count);
        Assert.Null(none);
        await InterruptedAsync(consumer);
    }

    [Fact]
    public async Task Poll_WaitingWhenTheSubscriptionIsDeleted_EndsTheWait_AndTheNextCallThrowsConsumerEnded()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        var wait = await EngineHarness.ParkedAsync(h, consumer, 1);

        Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));

        try
        {
            await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        }
        catch (OperationCanceledException)
        {
            // Either way the wait ends; a cancellation is how an ending consumer may report it.
        }

        var ended = Assert.Throws<ConsumerEndedException>(() => consumer.Poll(10, out _));
        Assert.Equal(ConsumerEndReason.SubscriptionDeleted, ended.Reason);
    }

    [Fact]
    public async Task DisposingAParkedPollingHandle_UnparksItsWaiter()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(type: SubscriptionType.Shared);
        var polling = await h.OpenAsync("a");
        await using var other = await h.OpenAsync("b");
        var receive = other.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 1 }));
        _ = await EngineHarness.ParkedAsync(h, polling, 2);

        await polling.DisposeAsync();
        Assert.Equal(1, h.Counts()!.WaitingReceivers);
        await h.ProduceAsync(1);
        Assert.Single(await receive.WaitAsync(EngineHarness.HangGuard));
    }

    [Fact]
    public async Task DisposingAPollingHandle_ThatWasWokenButNeverPolledAgain_PassesTheWakeOn()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(type: SubscriptionType.Shared);
        var polling = await h.OpenAsync("a");
        await using var other = await h.OpenAsync("b");

        // The polling handle parks first, so a message wakes it (one waiter per message on a shared subscription).
        var wait = await EngineHarness.ParkedAsync(h, polling, 1);
        var receive = other.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 2 }));
        await h.ProduceAsync(1);
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);

        // It goes away without taking it: the wake must reach the other receiver, or the message waits for nobody.
        await polling.DisposeAsync();
        Assert.Single(await receive.WaitAsync(EngineHarness.HangGuard));
    }

    // Polls as a stream does until it has at least count messages.
    private static async Task<List<Delivery>> PollAtLeastAsync(ISubscriptionConsumer consumer, int count)
    {
        var all = new List<Delivery>();
        while (all.Count < count)
        {
            all.AddRange(consumer.Poll(count - all.Count, out var wait));
            if (wait is { } pending)
            {
                await pending.AsTask().WaitAsync(EngineHarness.HangGuard);
            }
        }

        return all;
    }

    // Polls until the answer is "interrupted" (the call after an interrupt may read the log first); nothing taken.
    private static async Task InterruptedAsync(ISubscriptionConsumer consumer)
    {
        for (var i = 0; i < 100; i++)
        {
            Assert.Empty(consumer.Poll(10, out var wait));
            if (wait is not { } pending)
            {
                return;
            }

            await pending.AsTask().WaitAsync(EngineHarness.HangGuard);
        }

        throw new InvalidOperationException("never answered interrupted");
    }
}
