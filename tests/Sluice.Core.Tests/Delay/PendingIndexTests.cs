using Sluice.Core.Delay;

namespace Sluice.Core.Tests.Delay;

public sealed class PendingIndexTests
{
    [Fact]
    public void RandomAddsFiresAndCancels_MatchASortedModel_AcrossSealedCompactedAndMergedBuckets()
    {
        var random = new Random(1234);
        var index = new PendingIndex();
        var model = new SortedSet<PendingEntry>();
        var added = new List<PendingEntry>();
        long offset = 0;

        // Enough entries to seal several buckets, then fire and cancel most of them so buckets compact and merge.
        for (var round = 0; round < 6; round++)
        {
            for (var i = 0; i < 70_000; i++)
            {
                offset += 1 + random.Next(3);
                var entry = new PendingEntry(1_000_000 + random.Next(50_000), offset);
                index.Add(entry.Due, entry.Offset);
                model.Add(entry);
                added.Add(entry);
            }

            for (var i = 0; i < 40_000; i++)
            {
                if (random.Next(4) == 0)
                {
                    // Cancel: a message added at some point (pending, fired or cancelled) or an offset never added.
                    var target = random.Next(5) == 0 ? new PendingEntry(0, offset + 1 + random.Next(10)) : added[random.Next(added.Count)];
                    Assert.Equal(model.Remove(target), index.Remove(target.Offset));
                }
                else if (model.Count > 0)
                {
                    Assert.True(index.TryPeekMin(out var peeked));
                    Assert.Equal(model.Min, peeked);
                    Assert.Equal(model.Min, index.RemoveMin());
                    model.Remove(model.Min);
                }
            }

            Assert.Equal(model.Count, index.Count);
            Assert.Equal(model.Count == 0 ? null : model.Min(e => e.Offset), index.MinOffset());

            // Listing from a point in the middle, in order.
            var after = added[random.Next(added.Count)];
            var page = new List<PendingEntry>();
            index.CollectAfter(after, 100, page);
            Assert.Equal(model.GetViewBetween(after, PendingEntry.Max).Where(e => e > after).Take(100), page);
        }

        // Everything left comes out in (due, offset) order.
        while (model.Count > 0)
        {
            Assert.Equal(model.Min, index.RemoveMin());
            model.Remove(model.Min);
        }

        Assert.Equal(0, index.Count);
        Assert.Equal(0, index.BucketCount);
        Assert.Equal(0, index.ArrayBytes);
    }

    [Fact]
    public void OneMillionPending_Hold16BytesEach_AndFiringThemFreesTheArrays()
    {
        const int Count = 1_000_000;
        var index = new PendingIndex();
        for (var i = 0; i < Count; i++)
        {
            index.Add(2_000_000_000_000 + (i % 3600) * 1000L, i);
        }

        // Full buckets are exactly 16 bytes per entry; only the open bucket has spare slots.
        Assert.InRange(index.ArrayBytes, Count * 16L, (Count * 16L) + (PendingIndex.BucketCapacity * 16L));

        var previous = new PendingEntry(long.MinValue, long.MinValue);
        for (var i = 0; i < Count; i++)
        {
            var e = index.RemoveMin();
            Assert.True(e > previous);
            previous = e;
            if (i == Count / 2)
            {
                // Half fired: partly fired buckets are compacted, so memory follows what is left.
                Assert.True(index.ArrayBytes <= 2 * index.Count * 16L + (2 * PendingIndex.BucketCapacity * 16L), $"{index.ArrayBytes} bytes for {index.Count} entries");
            }
        }

        Assert.Equal(0, index.ArrayBytes);
    }

    [Fact]
    public void EqualDueTimes_ComeOutInOffsetOrder_AndOffsetsMustGrow()
    {
        var index = new PendingIndex();
        index.Add(500, 3);
        index.Add(100, 7);
        index.Add(500, 9);
        index.Add(100, 12);

        Assert.Equal([new(100, 7), new(100, 12), new(500, 3), new(500, 9)], Enumerable.Range(0, 4).Select(_ => index.RemoveMin()).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Add(1, 12));
    }
}
