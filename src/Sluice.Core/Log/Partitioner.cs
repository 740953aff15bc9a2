namespace Sluice.Core.Log;

/// <summary>
/// Chooses a partition: keyed records by murmur2 of the key, the same function as Kafka's default
/// partitioner, so a topic mirrored to Kafka keeps its key placement; unkeyed records round-robin.
/// </summary>
public sealed class Partitioner
{
    private int _next = -1;

    /// <summary>The partition for a record with this key (or the next round-robin partition when null).</summary>
    public int Choose(ReadOnlySpan<byte> key, bool hasKey, int partitionCount)
    {
        if (hasKey)
        {
            return ForKey(key, partitionCount);
        }

        var n = Interlocked.Increment(ref _next);
        return (int)((uint)n % (uint)partitionCount);
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
