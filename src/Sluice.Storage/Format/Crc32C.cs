using System.Buffers.Binary;
using System.Numerics;

namespace Sluice.Storage.Format;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of every record batch. Uses the CPU's CRC32C instruction
/// through <see cref="BitOperations.Crc32C(uint, ulong)"/> (SSE4.2 / ARMv8), 8 bytes at a time.
/// </summary>
internal static class Crc32C
{
    /// <summary>The CRC of <paramref name="data"/> (initial value and final xor 0xFFFFFFFF, as in RFC 3720).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFFu, data);

    /// <summary>Continues a running (not yet inverted) CRC over more bytes.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
