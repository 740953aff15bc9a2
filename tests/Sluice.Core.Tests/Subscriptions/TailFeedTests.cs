using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// <see cref="TailFeeds"/>: subscriptions whose read-ahead reached a partition's end share one wait and one read of its
/// new records. Each must still get every record once, in order, and fall back to its own reads (room, errors, a seek)
/// without a gap.
/// </summary>
public sealed class TailFeedTests
{
    [Fact]
    public async Task AtTheEnd_ManySubscriptions_ShareOneWaitAndOneReadOfEachNewRecord()
    {
        const int subscriptions = 20;
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        var consumers = new List<ISubscriptionConsumer>();
        for (var i = 0; i < subscriptions; i++)
        {
            await h.SubscribeAsync(name: $"s{i}");
            consumers.Add(await h.OpenAsync("c", $"s{i}"));
        }

        // Each pump reads once on its own (when the thread pool runs it), then parks at the end: one wait in the log.
        await DeliverUntilSharedAsync(h, consumers, [.. Enumerable.Range(0, subscriptions).Select(i => $"s{i}")]);
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Log.Waiting(EngineHarness.Topic, 0) == 1));

        // And once the subscriptions are gone, nothing is left waiting on the log.
        for (var i = 0; i < subscriptions; i++)
        {
            Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, $"s{i}"));
        }

        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Log.Waiting(EngineHarness.Topic, 0) == 0));

        foreach (var c in consumers)
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task AtTheEnd_ASubscriptionWithNoRoom_ReadsForItselfLater_AndMissesNothing()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ReadAheadMessages = 4 });
        await h.CreateTopicAsync();
        await h.SubscribeAsync(name: "fast");
        await h.SubscribeAsync(name: "slow");
        await using var fast = await h.OpenAsync("f", "fast");
        await using var slow = await h.OpenAsync("s", "slow");
        await h.ProduceAsync(1);
        await EngineHarness.ReceiveAtLeastAsync(fast, 1);
        await EngineHarness.ReceiveAtLeastAsync(slow, 1);

        // One append per record: the feed offers each to both; the slow one's read-ahead fills after a few.
        var fastGot = new List<long>();
        for (var i = 0; i < 30; i++)
        {
            await h.ProduceAsync(1);
            fastGot.AddRange((await EngineHarness.ReceiveAtLeastAsync(fast, 1)).Select(d => d.Record.Offset));
        }

        var slowGot = (await EngineHarness.ReceiveAtLeastAsync(slow, 30)).Select(d => d.Record.Offset).ToList();

        Assert.Equal(Enumerable.Range(1, 30).Select(o => (long)o), fastGot);
        Assert.Equal(Enumerable.Range(1, 30).Select(o => (long)o), slowGot);
        Assert.Empty(await slow.ReceiveAsync(10, TimeSpan.Zero));
    }

    [Fact]
    public async Task TheSharedReadFails_EachSubscriptionReadsForItself_AndDeliveryGoesOn()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(name: "a");
        await h.SubscribeAsync(name: "b");
        await using var a = await h.OpenAsync("c", "a");
        await using var b = await h.OpenAsync("c", "b");
        var next = await DeliverUntilSharedAsync(h, [a, b], ["a", "b"]);
        var pendingA = a.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        var pendingB = b.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(h.Counts("a")!.WaitingReceivers + h.Counts("b")!.WaitingReceivers == 2));

        // Both pumps are parked (three rounds in a row took one read each): the next read is the feed's. It fails once;
        // then each pump reads for itself: three reads in all.
        var failed = 0;
        h.Log.FailReads = _ => Interlocked.Exchange(ref failed, 1) == 0 ? new IOException("disk hiccup") : null;
        var before = h.Log.ReadCalls;
        await h.ProduceAsync(1);
        await Task.WhenAll(pendingA, pendingB).WaitAsync(EngineHarness.HangGuard);

        Assert.Equal(3, h.Log.ReadCalls - before);
        Assert.Equal(next, Assert.Single(await pendingA).Record.Offset);
        Assert.Equal(next, Assert.Single(await pendingB).Record.Offset);
        Assert.Equal(1, failed);
        await h.AckAsync(await pendingA, "a");
        await h.AckAsync(await pendingB, "b");

        // And the feed serves them again afterwards.
        await DeliverUntilSharedAsync(h, [a, b], ["a", "b"], firstOffset: next + 1);
    }

    [Fact]
    public async Task AtTheEnd_ASeekBack_DeliversFromTheNewPosition_ThenNewRecordsOnce()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(name: "other");
        await h.SubscribeAsync();
        await using var other = await h.OpenAsync("o", "other");
        await using var c = await h.OpenAsync("c");
        await h.ProduceAsync(3);
        await h.AckAsync(await EngineHarness.ReceiveAtLeastAsync(c, 3));
        await EngineHarness.ReceiveAtLeastAsync(other, 3);

        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.AtOffset(1));
        var again = await EngineHarness.ReceiveAtLeastAsync(c, 2);
        await h.ProduceAsync(1);
        var next = await EngineHarness.ReceiveAtLeastAsync(c, 1);

        Assert.Equal([1L, 2], again.Select(d => d.Record.Offset));
        Assert.Equal(3, Assert.Single(next).Record.Offset);
        Assert.Equal(3, Assert.Single(await EngineHarness.ReceiveAtLeastAsync(other, 1)).Record.Offset);
        Assert.Empty(await c.ReceiveAsync(10, TimeSpan.Zero));
    }
    private const int MaxRounds = 200;

    // Appends one record at a time while every consumer waits, until three rounds in a row delivered each record to all
    // of them with one read of the log (the feed's); returns the offset the next append gets. Fails after MaxRounds.
    private static async Task<long> DeliverUntilSharedAsync(EngineHarness h, IReadOnlyList<ISubscriptionConsumer> consumers, string[] names, long firstOffset = 0)
    {
        var offset = firstOffset;
        var shared = 0;
        for (var round = 0; round < MaxRounds && shared < 3; round++, offset++)
        {
            var pending = consumers.Select(c => c.ReceiveAsync(10, EngineHarness.LongWait).AsTask()).ToList();
            await EngineHarness.EventuallyAsync(() => Task.FromResult(names.Sum(n => h.Counts(n)!.WaitingReceivers) == consumers.Count));
            var before = h.Log.ReadCalls;

            await h.ProduceAsync(1);
            var received = await Task.WhenAll(pending).WaitAsync(EngineHarness.HangGuard);

            Assert.All(received, batch => Assert.Equal(offset, Assert.Single(batch).Record.Offset));
            for (var i = 0; i < consumers.Count; i++)
            {
                await h.AckAsync(received[i], names[i]);
            }

            shared = h.Log.ReadCalls - before == 1 ? shared + 1 : 0;
        }

        Assert.Equal(3, shared);
        return offset;
    }
}
