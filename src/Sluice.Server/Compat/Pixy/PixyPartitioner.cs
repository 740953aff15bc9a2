namespace Sluice.Server.Compat.Pixy;

/// <summary>
/// Kafka-Pixy's keyed partitioning (Sarama's hash partitioner): FNV-1a 32 of the key bytes, taken as a signed 32-bit
/// value, modulo the partition count, negated when negative. Clients that expect a key on a given partition keep it.
/// </summary>
internal static class PixyPartitioner
{
    public static int ForKey(ReadOnlySpan<byte> key, int partitionCount)
    {
        const uint OffsetBasis = 2166136261;
        const uint Prime = 16777619;
        var hash = OffsetBasis;
        foreach (var b in key)
        {
            hash ^= b;
            hash *= Prime;
        }

        var partition = (int)hash % partitionCount;
        return partition < 0 ? -partition : partition;
    }
}
