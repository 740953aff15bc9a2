using Sluice.Core.Topics;

namespace Sluice.Kafka.Tests;

/// <summary>
/// Waits for a partition's end to pass an offset, as a reader stream makes them: many waits with one token, which the
/// stream's keep-alive or end cancels now and then.
/// </summary>
public sealed class KafkaWaitersTests
{
    private static readonly TopicName Topic = new("t", "ns", "w");

    [Fact]
    public async Task ManyWaitsWithOneToken_EachEndsAtItsAppend_AndTheTokenCancelsOnlyThePendingOne()
    {
        long end = 0;
        using var waiters = new KafkaWaiters(TimeSpan.FromMilliseconds(50), (_, _) => Interlocked.Read(ref end), _ => { });
        using var interrupt = new CancellationTokenSource();

        for (var offset = 0L; offset < 200; offset++)
        {
            var wait = waiters.WaitAsync(Topic, "k", 0, offset, interrupt.Token);
            Assert.False(wait.IsCompleted);
            Interlocked.Exchange(ref end, offset + 1);
            waiters.Appended("k", 0, offset + 1);
            await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        // Past the end: done at once, whatever the token.
        Assert.True(waiters.WaitAsync(Topic, "k", 0, 199, interrupt.Token).IsCompletedSuccessfully);

        var pending = waiters.WaitAsync(Topic, "k", 0, 200, interrupt.Token).AsTask();
        await interrupt.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10)));

        // A token cancelled before the wait: cancelled at once, and the waits after it still end at their appends.
        var cancelled = waiters.WaitAsync(Topic, "k", 0, 200, interrupt.Token).AsTask();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(10)));
        var next = waiters.WaitAsync(Topic, "k", 0, 200, CancellationToken.None).AsTask();
        Interlocked.Exchange(ref end, 201);
        waiters.Appended("k", 0, 201);
        await next.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
