using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// A receive asking for more than the read-ahead holds (it keeps <see cref="DeliveryOptions.ReadAheadMessages"/> per
/// partition) gets what the log already holds, up to what it asked for: a pull of 1,000 from a backlog is not answered
/// with the read-ahead's few. It does not wait for more, and hands no message out twice.
/// </summary>
public sealed class LargeReceiveTests
{
    [Fact]
    public async Task Receive_FromABacklogLargerThanTheReadAhead_GetsAllItAskedFor_InOrder()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ReadAheadMessages = 16 });
        await h.CreateTopicAsync();
        await h.ProduceAsync(100);
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        var first = await consumer.ReceiveAsync(60, TimeSpan.Zero);
        var second = await consumer.ReceiveAsync(60, TimeSpan.Zero);

        Assert.Equal(Enumerable.Range(0, 60).Select(i => (long)i), first.Select(d => d.Record.Offset));
        Assert.Equal(Enumerable.Range(60, 40).Select(i => (long)i), second.Select(d => d.Record.Offset));
        Assert.Empty(await consumer.ReceiveAsync(60, TimeSpan.Zero));
    }

    [Fact]
    public async Task Receive_OverPartitions_TakesFromEach_UntilItHasWhatItAskedFor()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ReadAheadMessages = 8 });
        await h.CreateTopicAsync(partitions: 3);
        for (var p = 0; p < 3; p++)
        {
            await h.ProduceAsync(30, partition: p);
        }

        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        var first = await consumer.ReceiveAsync(80, TimeSpan.Zero);
        var rest = await consumer.ReceiveAsync(80, TimeSpan.Zero);

        Assert.Equal(80, first.Count);
        Assert.Equal(10, rest.Count);
        var all = first.Concat(rest).ToList();
        Assert.Equal(90, all.Select(d => (d.Partition, d.Record.Offset)).Distinct().Count());
        for (var p = 0; p < 3; p++)
        {
            Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), all.Where(d => d.Partition == p).Select(d => d.Record.Offset).Order());
        }
    }

    [Fact]
    public async Task Receive_OfLargeRecords_ReadsAboutTheReadAheadsBytes_NotAllItAskedFor()
    {
        // 300-byte values against a 1 KiB read-ahead: the inline read stops after about 1 KiB, so the answer is a handful.
        await using var h = new EngineHarness(new DeliveryOptions { ReadAheadMessages = 2, ReadAheadBytes = 1024 });
        await h.CreateTopicAsync();
        for (var i = 0; i < 20; i++)
        {
            await h.Log.AppendAsync(EngineHarness.Topic, 0, [new RecordToAppend(null, new byte[300])]);
        }

        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        var first = await consumer.ReceiveAsync(20, TimeSpan.Zero);
        Assert.InRange(first.Count, 2, 10);

        var all = first.Concat(await EngineHarness.ReceiveAtLeastAsync(consumer, 20 - first.Count)).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), all.Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task Receive_OfMoreThanTheLogHolds_AnswersWithWhatThereIs_AndNewMessagesAfter()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ReadAheadMessages = 4 });
        await h.CreateTopicAsync();
        await h.ProduceAsync(10);
        await h.SubscribeAsync();
        await using var consumer = await h.OpenAsync("c");

        Assert.Equal(10, (await consumer.ReceiveAsync(1000, TimeSpan.Zero)).Count);

        // Caught up: the next receive waits for new messages and is answered as soon as there are some.
        var waiting = consumer.ReceiveAsync(1000, EngineHarness.LongWait).AsTask();
        await h.ProduceAsync(3);
        var next = await waiting.WaitAsync(EngineHarness.HangGuard);
        Assert.InRange(next.Count, 1, 3);
        var later = next.Count < 3 ? await EngineHarness.ReceiveAtLeastAsync(consumer, 3 - next.Count) : [];
        Assert.Equal([10L, 11L, 12L], next.Concat(later).Select(d => d.Record.Offset));
    }
}
