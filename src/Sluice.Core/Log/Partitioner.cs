namespace Sluice.Core.Log;

/// <summary>
/// Chooses a partition: keyed records by murmur2 of the key, the same function as Kafka's default
/// partitioner, so a topic mirrored to Kafka keeps its key placement; unkeyed records by sticky
/// round-robin: runs of <see cref="StickyRun"/> consecutive records share a partition, then the next
/// partition takes over (Kafka's sticky partitioner has the same aim).
/// </summary>
public sealed class Partitioner
{
    /// <summary>
    /// Unkeyed records in a row that go to one partition. Concurrent single-message produces then land in the
    /// same group commit instead of one per partition: with 64 connections and 4 partitions, durable produce
    /// went from 0.45 to about the 1-partition figure of the bare endpoint's rate (docs/BENCHMARKS.md).
    /// </summary>
    public const int StickyRun = 64;

    private long _next = -1;

    /// <summary>The partition for a record with this key (or the next round-robin partition when null).</summary>
    public int Choose(ReadOnlySpan<byte> key, bool hasKey, int partitionCount)
    {
        if (hasKey)
        {
            return ForKey(key, partitionCount);
        }

        var n = Interlocked.Increment(ref _next);
        return (int)((ulong)(n / StickyRun) % (uint)partitionCount);
    }

    /// <summary>Kafka's <c>toPositive(murmur2(key)) % partitions</c>.</summary>
    public static int ForKey(ReadOnlySpan<byte> key, int partitionCount)
        => (Murmur2(key) & 0x7fffffff) % partitionCount;

    /// <summary>Kafka's murmur2 (seed 0x9747b28c), over the key bytes.</summary>
    public static int Murmur2(ReadOnlySpan<byte> data)
    {
        const uint m = 0x5bd1e995;
        const int r = 24;
        var length = data.Length;
        var h = 0x9747b28cu ^ (uint)length;
        var i = 0;
        for (; i + 4 <= length; i += 4)
        {
            var k = (uint)(data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24);
            k *= m;
            k ^= k >> r;
            k *= m;
            h *= m;
            h ^= k;
        }

        switch (length - i)
        {
            case 3:
                h ^= (uint)data[i + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[i + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[i];
                h *= m;
                break;
        }

        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return (int)h;
    }
}
