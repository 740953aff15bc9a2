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

    private static StoredRecord At(long offset) => new(offset, DateTimeOffset.UnixEpoch, null, new byte[] { 1 }, []);

    // An engine delivery, leased.
    private static Delivery Leased(DeliverySource source, int partition, long offset, int attempt)
    {
        var record = At(offset);
        return new Delivery(source, partition, record, attempt, new Entry(partition, record, null));
    }

    // An engine delivery held by a stream that acks what it writes (ack=auto), as a fan-out's are.
    private static Delivery Held(DeliverySource source, int partition, long offset)
        => new(source, partition, At(offset), new ConsumerState("sse-1", 1), heldEpoch: 0);

    // Formats each delivery in turn with one formatter: each must be its own id, whatever came before.
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
        var seeked = new DeliverySource(topic, 0x1f, 0x2f);
        var recreated = new DeliverySource(topic, 0x20, 0x2e);
        var longest = new DeliverySource(topic, -1, uint.MaxValue);
        AssertFormatsEach(new AckIdFormatter(), [
            Held(source, 3, 1234),
            Held(source, 3, 1235),
            Leased(source, 3, 9, 2),
            Held(source, 0, 1236),
            Held(source, 3, 1237),
            Held(seeked, 3, 1238),
            Held(recreated, 3, 1238),
            Leased(longest, int.MaxValue, long.MaxValue, int.MaxValue),
            Held(longest, int.MaxValue, 0),
            new Delivery("given.as.text", topic, int.MaxValue, Record, 1),
            Leased(longest, int.MaxValue, 1, 1),

            // Never a delivery's: a position id (attempt 0), written as the delivery writes it; the longest partition
            // of all, a negative one, through the head as any other.
            Leased(source, 3, 5, 0),
            Held(longest, int.MinValue, 1240),
            Held(source, 3, 1239),
        ]);
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
        var length = Encoding.UTF8.GetByteCount(second.AckId);
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
