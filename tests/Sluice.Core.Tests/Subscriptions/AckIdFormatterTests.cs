using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// A stream formats its deliveries' ack ids with one <see cref="AckIdFormatter"/>, which keeps the head of the previous
/// engine id; every id must still be exactly the delivery's <see cref="Delivery.AckId"/>, whatever came before it.
/// </summary>
public sealed class AckIdFormatterTests
{
    private static readonly StoredRecord Record = new(7, DateTimeOffset.UnixEpoch, null, new byte[] { 1 }, []);

    // An engine delivery (leased), its id not yet made as text.
    private static Delivery Leased(DeliverySource source, int partition, long offset, int attempt)
    {
        var record = new StoredRecord(offset, DateTimeOffset.UnixEpoch, null, new byte[] { 1 }, []);
        return new Delivery(source, partition, record, attempt, new Entry(partition, record, null));
    }

    // Formats each delivery in turn with one formatter; the text of each id is made only afterwards.
    private static void AssertFormatsEach(AckIdFormatter formatter, IReadOnlyList<Delivery> deliveries)
    {
        var buffer = new byte[256];
        var written = new List<string>();
        foreach (var d in deliveries)
        {
            Assert.True(formatter.TryFormat(d, buffer, out var n));
            written.Add(Encoding.UTF8.GetString(buffer, 0, n));
        }

        Assert.Equal(deliveries.Select(d => d.AckId), written);
    }

    [Fact]
    public void TryFormat_HeadsChangingBetweenIds_WritesEachDeliverysAckId()
    {
        var topic = EngineHarness.Topic;
        var source = new DeliverySource(topic, 0x1f, 0x2e);
        var longest = new DeliverySource(topic, -1, uint.MaxValue);

        // Equal values, another object: a source made again (a restart, a recreated subscription) gets its own head.
        var again = new DeliverySource(topic, 0x1f, 0x2e);
        var seeked = new DeliverySource(topic, 0x1f, 0x2f);
        AssertFormatsEach(new AckIdFormatter(), [
            Leased(source, 3, 1234, 1),
            Leased(source, 3, 1235, 1),
            Leased(source, 3, 9, 2),
            Leased(source, 0, 1236, 1),
            Leased(source, 3, 1237, 1),
            Leased(again, 3, 1238, 1),
            Leased(seeked, 3, 1238, 1),
            Leased(longest, int.MaxValue, long.MaxValue, int.MaxValue),
            Leased(longest, int.MaxValue, 0, 1),
            new Delivery("given.as.text", topic, int.MaxValue, Record, 1),
            Leased(longest, int.MaxValue, 1, 1),
            Leased(source, 3, 1239, 1),
        ]);
    }

    [Fact]
    public void TryFormat_IdWhoseTextWasAlreadyMade_WritesTheSameBytes()
    {
        var source = new DeliverySource(EngineHarness.Topic, 5, 6);
        var deliveries = new[] { Leased(source, 1, 10, 1), Leased(source, 1, 11, 1) };
        _ = deliveries[1].AckId;
        AssertFormatsEach(new AckIdFormatter(), deliveries);
    }

    [Fact]
    public void TryFormat_DestinationTooSmall_ReturnsFalseThenFitsAgain()
    {
        var longest = new DeliverySource(EngineHarness.Topic, -1, uint.MaxValue);
        var first = Leased(longest, int.MaxValue, long.MaxValue, int.MaxValue);
        var second = Leased(longest, int.MaxValue, long.MaxValue - 1, int.MaxValue);
        var formatter = new AckIdFormatter();
        Assert.True(formatter.TryFormat(first, new byte[256], out _));

        // The second id from the kept head, into every destination shorter than it.
        var length = Encoding.UTF8.GetByteCount(Leased(longest, int.MaxValue, long.MaxValue - 1, int.MaxValue).AckId);
        Assert.True(length > AckId.MaxHeadBytes);
        for (var size = 0; size < length; size++)
        {
            Assert.False(formatter.TryFormat(second, new byte[size], out var n), $"size {size}");
            Assert.Equal(0, n);
        }

        var exact = new byte[length];
        Assert.True(formatter.TryFormat(second, exact, out var written));
        Assert.Equal(second.AckId, Encoding.UTF8.GetString(exact, 0, written));
    }

    [Fact]
    public async Task TryFormat_TheEnginesDeliveriesAcrossPartitionsAttemptsAndASeek_WritesEachDeliverysAckId()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 3);
        await h.SubscribeAsync(SubscriptionType.Shared);
        for (var p = 0; p < 3; p++)
        {
            await h.ProduceAsync(40, partition: p);
        }

        var formatter = new AckIdFormatter();
        await using var consumer = await h.OpenAsync("c");

        // First attempts, the partitions in whatever order the engine hands them out; then second attempts; then a seek's
        // new epoch.
        var first = await EngineHarness.ReceiveAtLeastAsync(consumer, 120);
        AssertFormatsEach(formatter, first);
        await h.NackAsync(first.Take(30), TimeSpan.Zero);
        var second = await EngineHarness.ReceiveAtLeastAsync(consumer, 30);
        Assert.All(second, d => Assert.Equal(2, d.DeliveryAttempt));
        AssertFormatsEach(formatter, second);
        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.Earliest);
        AssertFormatsEach(formatter, await EngineHarness.ReceiveAtLeastAsync(consumer, 120));
    }
}
