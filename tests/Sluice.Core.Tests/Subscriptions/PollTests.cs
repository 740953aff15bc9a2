using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// <see cref="ISubscriptionConsumer.Poll"/>: a stream's loop that awaits the handle's waiter itself. It must get what the
/// log already holds on its first call, wake for new messages, tell an interrupt apart from a wake, end with the
/// consumer, and leave the subscription's wake queue clean when the handle goes.
/// </summary>
public sealed class PollTests
{
    [Fact]
    public async Task Poll_FirstCall_GetsWhatTheLogHolds_ThenWaitsAndWakesForTheNext()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(3);
        await using var consumer = await h.OpenAsync("c");

        var first = await PollAtLeastAsync(consumer, 3);
        Assert.Equal(3, first.Count);
        await consumer.AckAsync(first, waitDurable: false); // acked: no lease deadline can wake the wait below

        var empty = consumer.Poll(10, out var wait);
        Assert.Empty(empty);
        Assert.False(wait.IsCompleted);
        Assert.Equal(1, h.Counts()!.WaitingReceivers);
        h.Time.Advance(TimeSpan.FromDays(1)); // no timer: time alone never ends it
        Assert.False(wait.IsCompleted);

        await h.ProduceAsync(2);
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        Assert.Equal(2, (await PollAtLeastAsync(consumer, 2)).Count);
    }

    [Fact]
    public async Task Poll_Interrupted_WhileWaitingOrBefore_AnswersEmptyWithACompletedWait_Once()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        Prime(consumer);

        Assert.Empty(consumer.Poll(10, out var wait));
        Assert.False(wait.IsCompleted);
        consumer.Interrupt();
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        Assert.Empty(consumer.Poll(10, out var interrupted));
        Assert.True(interrupted.IsCompleted);
        Assert.Equal(0, h.Counts()!.WaitingReceivers);

        // Once only: the next call waits again.
        Assert.Empty(consumer.Poll(10, out var again));
        Assert.False(again.IsCompleted);

        // Interrupted between calls: that wait ends, and the next call says so.
        consumer.Interrupt();
        await again.AsTask().WaitAsync(EngineHarness.HangGuard);
        Assert.Empty(consumer.Poll(10, out var second));
        Assert.True(second.IsCompleted);
    }

    [Fact]
    public async Task Poll_WaitingWhenTheSubscriptionIsDeleted_EndsTheWait_AndTheNextCallThrowsConsumerEnded()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        Prime(consumer);
        Assert.Empty(consumer.Poll(10, out var wait));

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
    public async Task DisposingAPollingHandle_LeavesNoWaiterParked_AndAnotherConsumerStillGetsTheMessage()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(type: SubscriptionType.Shared);
        var polling = await h.OpenAsync("a");
        await using var other = await h.OpenAsync("b");
        var receive = other.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts() is { WaitingReceivers: 1 }));
        Prime(polling);
        Assert.Empty(polling.Poll(10, out var wait));
        Assert.False(wait.IsCompleted);
        Assert.Equal(2, h.Counts()!.WaitingReceivers);

        await polling.DisposeAsync();
        Assert.Equal(1, h.Counts()!.WaitingReceivers);
        await h.ProduceAsync(1);
        Assert.Single(await receive.WaitAsync(EngineHarness.HangGuard));
    }

    // Polls as a stream does until it has at least count messages.
    private static async Task<List<Delivery>> PollAtLeastAsync(ISubscriptionConsumer consumer, int count)
    {
        var all = new List<Delivery>();
        while (all.Count < count)
        {
            var got = consumer.Poll(count - all.Count, out var wait);
            all.AddRange(got);
            if (got.Count == 0)
            {
                await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
            }
        }

        return all;
    }

    // The handle's first call, which reads the log: nothing there, so it parks (or is still reading).
    private static void Prime(ISubscriptionConsumer consumer) => Assert.Empty(consumer.Poll(10, out _));
}
