using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Storage.Partitions;

namespace Sluice.Storage.Tests;

/// <summary>The embedded log's tail waits, one at a time: what a pooled waiter must not carry from one wait to the next.</summary>
public sealed class DataWaitersTests
{
    private long _end;

    [Fact]
    public async Task AWaitersNextWait_IsNotEndedByThePreviousWaitsToken()
    {
        var waiters = new DataWaiters(() => Volatile.Read(ref _end));
        using var first = new CancellationTokenSource();
        var wait = waiters.WaitAsync(0, first.Token);
        Publish(waiters, 1);
        await wait;

        // The same pooled waiter serves the next wait; the first wait's token, cancelled now, must not reach it.
        using var second = new CancellationTokenSource();
        var next = waiters.WaitAsync(1, second.Token);
        await first.CancelAsync();
        Assert.False(next.IsCompleted);
        Publish(waiters, 2);
        await next;
    }

    [Fact]
    public async Task APublishWakesOnlyTheWaitsItsEndPassed()
    {
        var waiters = new DataWaiters(() => Volatile.Read(ref _end));
        var atZero = waiters.WaitAsync(0, CancellationToken.None).AsTask();
        var atThree = waiters.WaitAsync(3, CancellationToken.None).AsTask();
        Publish(waiters, 2);
        await atZero;
        Assert.False(atThree.IsCompleted);
        Publish(waiters, 4);
        await atThree;

        // Past the end already: done at once, nothing waits.
        Assert.True(waiters.WaitAsync(3, CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task ACancelledWait_FailsAlone_AndLeavesTheListToTheOthers()
    {
        var waiters = new DataWaiters(() => Volatile.Read(ref _end));
        using var cts = new CancellationTokenSource();
        var cancelled = waiters.WaitAsync(0, cts.Token).AsTask();
        var other = waiters.WaitAsync(0, CancellationToken.None).AsTask();
        await cts.CancelAsync();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.False(other.IsCompleted);
        Publish(waiters, 1);
        await other;
    }

    [Fact]
    public async Task Close_FailsTheWaitsAndEveryLaterOne()
    {
        var waiters = new DataWaiters(() => Volatile.Read(ref _end));
        var waiting = waiters.WaitAsync(0, CancellationToken.None).AsTask();
        waiters.Close(() => new TopicNotFoundException(new TopicName("t", "ns", "gone")));
        await Assert.ThrowsAsync<TopicNotFoundException>(() => waiting);
        await Assert.ThrowsAsync<TopicNotFoundException>(() => waiters.WaitAsync(0, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task AwaitingAWaitTwice_ThrowsAndLeavesThePooledWaiterToOneReader()
    {
        var waiters = new DataWaiters(() => Volatile.Read(ref _end));
        var wait = waiters.WaitAsync(0, CancellationToken.None);
        Publish(waiters, 1);
        await wait;

        // The second await is a misuse: it throws, and must not put the waiter back in the pool a second time, where two
        // later waits would share it.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await wait);
        var a = waiters.WaitAsync(1, CancellationToken.None).AsTask();
        var b = waiters.WaitAsync(1, CancellationToken.None).AsTask();
        Publish(waiters, 2);
        await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30));

        // A GetResult before the wait completed throws too, and leaves the wait to complete as usual.
        var pending = waiters.WaitAsync(2, CancellationToken.None);
        Assert.Throws<InvalidOperationException>(() => pending.GetAwaiter().GetResult());
        var after = waiters.WaitAsync(2, CancellationToken.None).AsTask();
        Publish(waiters, 3);
        await pending;
        await after.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private void Publish(DataWaiters waiters, long end)
    {
        Volatile.Write(ref _end, end);
        waiters.Publish();
    }
}
