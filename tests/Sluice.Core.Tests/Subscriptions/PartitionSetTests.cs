using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// <see cref="PartitionSet"/>: the partitions an ack changed, handed to the cursor writer. Each must come out once,
/// whether it is kept as a bit (below 64) or in the set beyond, and an empty set must say so.
/// </summary>
public sealed class PartitionSetTests
{
    [Fact]
    public void Empty_IsEmpty_AndEnumeratesNothing()
    {
        var set = default(PartitionSet);

        Assert.True(set.IsEmpty);
        Assert.Empty(Items(set));
    }

    [Fact]
    public void Partitions_BelowAndAbove64_EachComeOutOnce()
    {
        var set = default(PartitionSet);
        foreach (var p in new[] { 5, 0, 63, 64, 5, 1000, 64, 63, 2 })
        {
            set.Add(p);
        }

        Assert.False(set.IsEmpty);
        Assert.Equal([0, 2, 5, 63, 64, 1000], Items(set).Order());
        Assert.Equal([0, 2, 5, 63], Items(set).Take(4));
    }

    [Fact]
    public void OnlyAbove64_IsNotEmpty()
    {
        var set = PartitionSet.One(200);

        Assert.False(set.IsEmpty);
        Assert.Equal([200], Items(set));
    }

    [Fact]
    public void Of_TakesEveryPartitionGiven()
    {
        Assert.Equal(Enumerable.Range(0, 130), Items(PartitionSet.Of(Enumerable.Range(0, 130))).Order());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(130)]
    public void All_IsPartitionsZeroToCountLessOne(int count)
    {
        var set = PartitionSet.All(count);

        Assert.Equal(count == 0, set.IsEmpty);
        Assert.Equal(Enumerable.Range(0, count), Items(set).Order());
    }

    [Fact]
    public void Negative_IsRefused()
    {
        var set = default(PartitionSet);

        Assert.Throws<ArgumentOutOfRangeException>(() => set.Add(-1));
    }

    [Fact]
    public void All_NegativeCount_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionSet.All(-1));
    }

    private static List<int> Items(PartitionSet set)
    {
        var items = new List<int>();
        foreach (var p in set)
        {
            items.Add(p);
        }

        return items;
    }
}
