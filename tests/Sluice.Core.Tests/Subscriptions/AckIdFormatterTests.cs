using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// A stream formats its deliveries' ack ids with one <see cref="AckIdFormatter"/>, which keeps the head the previous id
/// shared; every id must still be exactly the delivery's <see cref="Delivery.AckId"/>, whatever came before it.
/// </summary>
public sealed class AckIdFormatterTests
{
    [Fact]
    public async Task TryFormat_EngineIdsAcrossPartitionsAttemptsEpochsAndHolds_WritesEachDeliverysAckId()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 3);
        await h.SubscribeAsync(SubscriptionType.Shared);
        for (var p = 0; p < 3; p++)
        {
            await h.ProduceAsync(40, partition: p);
        }

        var formatter = new AckIdFormatter();
        var formatted = 0;
        void Check(IEnumerable<Delivery> deliveries)
        {
            var buffer = new byte[256];
            foreach (var d in deliveries)
            {
                Assert.True(formatter.TryFormat(d, buffer, out var n));
                Assert.Equal(d.AckId, Encoding.UTF8.GetString(buffer, 0, n));
                formatted++;
            }
        }

        await using (var leased = await h.OpenAsync("leased"))
        {
            // First attempts, the three partitions interleaved in whatever order the engine hands them out.
            var first = await EngineHarness.ReceiveAtLeastAsync(leased, 120);
            Check(first);

            // Second attempts of the same messages: same head, other attempt.
            await h.NackAsync(first.Take(30), TimeSpan.Zero);
            Check(await EngineHarness.ReceiveAtLeastAsync(leased, 30));

            // A seek starts a new epoch: a new head for the same partitions.
            await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.Earliest);
            Check(await EngineHarness.ReceiveAtLeastAsync(leased, 120));
        }

        // Held deliveries (a stream that acks what it writes) share the head with the same formatter.
        await h.ProduceAsync(5, partition: 1);
        await using (var held = await h.OpenAsync("held"))
        {
            held.HoldNewMessages();
            Check(await EngineHarness.ReceiveAtLeastAsync(held, 5));
        }

        // Ids given as text, between engine ids and of every length up to the longest an engine id can be.
        var record = new StoredRecord(7, DateTimeOffset.UnixEpoch, null, new byte[] { 1 }, []);
        Check([
            new Delivery("7fffffffffffffff.ffffffff.2147483647.9223372036854775807.2147483647", EngineHarness.Topic, 2, record, 1),
            new Delivery("ffffffffffffffff.0.0.7.*", EngineHarness.Topic, 0, record, 1),
            new Delivery("not.an.engine.id", EngineHarness.Topic, 1, record, 1),
        ]);
        Assert.True(formatted >= 275, $"formatted {formatted}");
    }

    [Fact]
    public async Task TryFormat_DestinationTooSmall_ReturnsFalse()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Shared);
        await h.ProduceAsync(2);
        await using var consumer = await h.OpenAsync("c");
        var deliveries = await EngineHarness.ReceiveAtLeastAsync(consumer, 2);
        var formatter = new AckIdFormatter();
        var buffer = new byte[256];
        Assert.True(formatter.TryFormat(deliveries[0], buffer, out _));

        // The second id with its head remembered, into every destination shorter than it: never a partial id.
        var length = Encoding.UTF8.GetByteCount(deliveries[1].AckId);
        for (var size = 0; size < length; size++)
        {
            Assert.False(formatter.TryFormat(deliveries[1], new byte[size], out _), $"size {size}");
        }

        Assert.True(formatter.TryFormat(deliveries[1], new byte[length], out var n));
        Assert.Equal(length, n);
    }
}
