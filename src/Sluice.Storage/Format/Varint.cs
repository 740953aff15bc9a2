using System.Runtime.CompilerServices;

namespace Sluice.Storage.Format;

/// <summary>LEB128 unsigned varints and zig-zag signed varints, as in Kafka's record format.</summary>
internal static class Varint
{
    public const int MaxLength = 10;

    public static int SizeOf(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    public static int SizeOfSigned(long value) => SizeOf(ZigZag(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    public static int Write(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    public static int WriteSigned(Span<byte> destination, long value) => Write(destination, ZigZag(value));

    /// <summary>Reads a varint; returns false when the bytes end first or it is longer than 10 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> source, ref int position, out ulong value)
    {
        value = 0;
        var shift = 0;
        for (var i = 0; i < MaxLength; i++)
        {
            if ((uint)position >= (uint)source.Length)
            {
                return false;
            }

            var b = source[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }

            shift += 7;
        }

        return false;
    }

    public static bool TryReadSigned(ReadOnlySpan<byte> source, ref int position, out long value)
    {
        if (TryRead(source, ref position, out var raw))
        {
            value = UnZigZag(raw);
            return true;
        }

        value = 0;
        return false;
    }
}
