using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// What an ack id encodes: <c>{generation:x}.{epoch:x}.{partition}.{offset}.{attempt}</c>. The generation is
/// persisted and new for every created subscription (a deleted and recreated subscription never accepts old ids);
/// the epoch is chosen at random whenever the subscription is loaded into memory and changes on every seek, so ids
/// from before a restart or a seek are unknown rather than misapplied. The attempt names the lease: an id of an
/// earlier delivery of the same message is expired.
/// <para>A position id, <c>{generation:x}.*.{partition}.{offset}.*</c> (<see cref="IsPosition"/>: epoch and attempt 0),
/// names the message rather than one lease of it: it settles whichever lease the message has on the instance that
/// delivers its partition. Clients that know only a message's position (Kafka-Pixy's acks) are acked this way, and the
/// text form travels through a fleet's acks topic like any other id.</para>
/// </summary>
internal readonly record struct AckId(long Generation, uint Epoch, int Partition, long Offset, int Attempt)
{
    /// <summary>True for a position id: any lease of the message at <see cref="Partition"/> and <see cref="Offset"/>.</summary>
    public bool IsPosition => Attempt == 0;

    public static AckId Position(long generation, int partition, long offset) => new(generation, 0, partition, offset, 0);

    public override string ToString() => IsPosition
        ? string.Create(CultureInfo.InvariantCulture, $"{Generation:x}.*.{Partition}.{Offset}.*")
        : string.Create(CultureInfo.InvariantCulture, $"{Generation:x}.{Epoch:x}.{Partition}.{Offset}.{Attempt}");

    /// <summary>The same text as <see cref="ToString"/>, as UTF-8 (Utf8Formatter: no boxing, no string).</summary>
    public bool TryFormat(Span<byte> utf8, out int written)
    {
        written = 0;
        if (IsPosition)
        {
            return System.Text.Encoding.UTF8.TryGetBytes(ToString(), utf8, out written);
        }

        if (!TryFormatHead(Generation, Epoch, Partition, utf8, out var n) || !TryFormatTail(Offset, Attempt, utf8[n..], out var m))
        {
            return false;
        }

        written = n + m;
        return true;
    }

    /// <summary>The longest head <see cref="TryFormatHead"/> writes: 16 and 8 hex digits, a partition's sign and 10 digits, three dots.</summary>
    public const int MaxHeadBytes = 16 + 1 + 8 + 1 + 11 + 1;

    /// <summary>
    /// <c>{generation:x}.{epoch:x}.{partition}.</c>: what the ids of one subscription epoch and partition share, which
    /// <see cref="TryFormatTail"/> completes.
    /// </summary>
    public static bool TryFormatHead(long generation, uint epoch, int partition, Span<byte> utf8, out int written)
    {
        written = 0;
        var hex = new StandardFormat('x');
        if (!Utf8Formatter.TryFormat(generation, utf8, out var n, hex) || !Dot(utf8, ref n)
            || !Utf8Formatter.TryFormat(epoch, utf8[n..], out var m, hex) || !Dot(utf8, ref n, m)
            || !Utf8Formatter.TryFormat(partition, utf8[n..], out m) || !Dot(utf8, ref n, m))
        {
            return false;
        }

        written = n;
        return true;
    }

    /// <summary><c>{offset}.{attempt}</c>, after a <see cref="TryFormatHead"/>.</summary>
    public static bool TryFormatTail(long offset, int attempt, Span<byte> utf8, out int written)
    {
        written = 0;
        if (!Utf8Formatter.TryFormat(offset, utf8, out var n) || !Dot(utf8, ref n)
            || !Utf8Formatter.TryFormat(attempt, utf8[n..], out var m))
        {
            return false;
        }

        written = n + m;
        return true;
    }

    // Appends '.' after the field just written (m bytes at n).
    private static bool Dot(Span<byte> utf8, ref int n, int m = 0)
    {
        n += m;
        if (n >= utf8.Length)
        {
            return false;
        }

        utf8[n++] = (byte)'.';
        return true;
    }

    /// <summary>
    /// Parses what <see cref="ToString"/> writes. Read field by field without splitting or number parsing of the
    /// framework (a pull's acks parse a thousand ids): hexadecimal generation and epoch (either case, leading zeros
    /// allowed, the generation's 64 bits as written), decimal partition, offset and attempt (ASCII digits, no sign), and
    /// nothing else.
    /// </summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out AckId id)
    {
        id = default;
        return value is not null && TryParse(value.AsSpan(), out id, out _);
    }

    /// <summary>
    /// As <see cref="TryParse(string?, out AckId)"/>, over UTF-16 or UTF-8 text. <paramref name="canonical"/> says the
    /// text is exactly what <see cref="ToString"/> writes for the id (lower case, no leading zeros), so it need not be kept.
    /// </summary>
    public static bool TryParse<TChar>(ReadOnlySpan<TChar> s, out AckId id, out bool canonical)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        id = default;
        canonical = true;
        if (s.Length > 100 || !TryField(ref s, 16, ulong.MaxValue, ref canonical, out var generation))
        {
            return false;
        }

        if (s.Length >= 2 && Is(s[0], '*') && Is(s[1], '.'))
        {
            s = s[2..];
            if (TryField(ref s, 10, int.MaxValue, ref canonical, out var p) && TryField(ref s, 10, long.MaxValue, ref canonical, out var o)
                && s.Length == 1 && Is(s[0], '*'))
            {
                id = Position((long)generation, (int)p, (long)o);
                return true;
            }

            return false;
        }

        if (TryField(ref s, 16, uint.MaxValue, ref canonical, out var epoch)
            && TryField(ref s, 10, int.MaxValue, ref canonical, out var partition)
            && TryField(ref s, 10, long.MaxValue, ref canonical, out var offset)
            && TryLastField(s, int.MaxValue, ref canonical, out var attempt)
            && attempt >= 1)
        {
            id = new AckId((long)generation, (uint)epoch, (int)partition, (long)offset, (int)attempt);
            return true;
        }

        return false;
    }

    private static bool Is<TChar>(TChar c, char expected)
        where TChar : unmanaged, IBinaryInteger<TChar>
        => uint.CreateTruncating(c) == expected;

    // A field and the '.' after it: one or more digits of the radix, at most max; s moves past the dot.
    private static bool TryField<TChar>(ref ReadOnlySpan<TChar> s, uint radix, ulong max, ref bool canonical, out ulong value)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        var digits = TryDigits(s, radix, max, ref canonical, out value);
        if (digits == 0 || digits >= s.Length || !Is(s[digits], '.'))
        {
            return false;
        }

        s = s[(digits + 1)..];
        return true;
    }

    // The last field: decimal digits to the end.
    private static bool TryLastField<TChar>(ReadOnlySpan<TChar> s, ulong max, ref bool canonical, out ulong value)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        var digits = TryDigits(s, 10, max, ref canonical, out value);
        return digits > 0 && digits == s.Length;
    }

    // How many leading characters of s are digits of the radix (0 when the number exceeds max). An upper-case hex digit
    // or a leading zero makes the text not canonical.
    private static int TryDigits<TChar>(ReadOnlySpan<TChar> s, uint radix, ulong max, ref bool canonical, out ulong value)
        where TChar : unmanaged, IBinaryInteger<TChar>
    {
        value = 0;
        var i = 0;
        for (; i < s.Length; i++)
        {
            var c = uint.CreateTruncating(s[i]);
            uint digit;
            if (c - '0' <= 9)
            {
                digit = c - '0';
            }
            else if (radix == 16 && (c | 0x20) - 'a' <= 5)
            {
                digit = (c | 0x20) - 'a' + 10;
                canonical &= c >= 'a';
            }
            else
            {
                break;
            }

            if (value > (max - digit) / radix)
            {
                return 0;
            }

            value = (value * radix) + digit;
        }

        if (i > 1 && uint.CreateTruncating(s[0]) == '0')
        {
            canonical = false;
        }

        return i;
    }
}
