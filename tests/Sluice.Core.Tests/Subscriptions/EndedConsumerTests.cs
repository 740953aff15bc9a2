using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// The contract every consuming loop relies on: a receive on an ended consumer throws <see cref="ConsumerEndedException"/>
/// with the reason, at once or as soon as the consumer ends mid-wait, and never answers an empty list a loop could spin
/// on; ending a consumer never runs that consumer's code inside the engine's call.
/// </summary>
public sealed class EndedConsumerTests
{
    [Fact]
    public async Task Receive_AfterTheSubscriptionWasDeleted_ThrowsConsumerEnded_InsteadOfReturningEmpty()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));

        var ended = await Assert.ThrowsAsync<ConsumerEndedException>(() => consumer.ReceiveAsync(10, EngineHarness.LongWait).AsTask().WaitAsync(EngineHarness.HangGuard));
        Assert.Equal(ConsumerEndReason.SubscriptionDeleted, ended.Reason);
        Assert.True(consumer.Ended.IsCancellationRequested);

        // Also without a wait, and every time after: a loop calling again gets the same answer, never an empty list.
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<ConsumerEndedException>(() => consumer.ReceiveAsync(10, TimeSpan.Zero).AsTask());
        }

        Assert.Empty(consumer.TakeReady(10));
    }

    [Fact]
    public async Task Receive_WaitingWhenTheSubscriptionIsDeleted_ThrowsConsumerEnded()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");
        var receive = consumer.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        Assert.False(receive.IsCompleted);

        Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));

        var ended = await Assert.ThrowsAsync<ConsumerEndedException>(() => receive.WaitAsync(EngineHarness.HangGuard));
        Assert.Equal(ConsumerEndReason.SubscriptionDeleted, ended.Reason);
    }

    [Fact]
    public async Task Delete_DoesNotRunTheConsumersCodeInsideTheEnginesCall()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        // A consumer's reaction to its end (here: blocking until released) must not hold the delete, nor the admin
        // lock every later create, delete and seek takes.
        using var release = new ManualResetEventSlim();
        using var registration = consumer.Ended.Register(() => release.Wait(EngineHarness.HangGuard));
        try
        {
            // On another thread: a callback run inline would block this very call before it could time out.
            await Task.Run(() => h.Engine.DeleteAsync(EngineHarness.Topic, "sub").AsTask()).WaitAsync(EngineHarness.HangGuard / 2);
            await h.SubscribeAsync(name: "another").WaitAsync(EngineHarness.HangGuard / 2);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task Receive_AfterTheEngineStopped_ThrowsConsumerEnded_WithTheReason()
    {
        var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        var consumer = await h.OpenAsync("c");
        var receive = consumer.ReceiveAsync(10, EngineHarness.LongWait).AsTask();

        await h.DisposeAsync();

        var ended = await Assert.ThrowsAsync<ConsumerEndedException>(() => receive.WaitAsync(EngineHarness.HangGuard));
        Assert.Equal(ConsumerEndReason.EngineStopped, ended.Reason);
        await consumer.DisposeAsync();
    }

    [Fact]
    public async Task Consumer_OfASubscriptionCreatedAgain_ReceivesWhatIsProducedAfter()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using (var consumer = await h.OpenAsync("c"))
        {
            Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));
            await Assert.ThrowsAsync<ConsumerEndedException>(() => consumer.ReceiveAsync(1, TimeSpan.Zero).AsTask());
        }

        await h.SubscribeAsync();
        await using var again = await h.OpenAsync("c");
        await h.ProduceAsync(2);
        var got = await EngineHarness.ReceiveAtLeastAsync(again, 2);
        Assert.Equal(["0:0", "0:1"], got.Select(d => d.MessageId));
    }
}
