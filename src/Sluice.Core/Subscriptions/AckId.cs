using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

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

        var hex = new StandardFormat('x');
        if (!Utf8Formatter.TryFormat(Generation, utf8, out var n, hex) || !Dot(utf8, ref n)
            || !Utf8Formatter.TryFormat(Epoch, utf8[n..], out var m, hex) || !Dot(utf8, ref n, m)
            || !Utf8Formatter.TryFormat(Partition, utf8[n..], out m) || !Dot(utf8, ref n, m)
            || !Utf8Formatter.TryFormat(Offset, utf8[n..], out m) || !Dot(utf8, ref n, m)
            || !Utf8Formatter.TryFormat(Attempt, utf8[n..], out m))
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
        if (value is null || value.Length > 100)
        {
            return false;
        }

        var s = value.AsSpan();
        if (!TryField(ref s, 16, ulong.MaxValue, out var generation))
        {
            return false;
        }

        if (s is ['*', '.', ..])
        {
            s = s[2..];
            if (TryField(ref s, 10, int.MaxValue, out var p) && TryField(ref s, 10, long.MaxValue, out var o) && s is "*")
            {
                id = Position((long)generation, (int)p, (long)o);
                return true;
            }

            return false;
        }

        if (TryField(ref s, 16, uint.MaxValue, out var epoch)
            && TryField(ref s, 10, int.MaxValue, out var partition)
            && TryField(ref s, 10, long.MaxValue, out var offset)
            && TryLastField(s, int.MaxValue, out var attempt)
            && attempt >= 1)
        {
            id = new AckId((long)generation, (uint)epoch, (int)partition, (long)offset, (int)attempt);
            return true;
        }

        return false;
    }

    // A field and the '.' after it: one or more digits of the radix, at most max; s moves past the dot.
    private static bool TryField(ref ReadOnlySpan<char> s, uint radix, ulong max, out ulong value)
    {
        var digits = TryDigits(s, radix, max, out value);
        if (digits == 0 || digits >= s.Length || s[digits] != '.')
        {
            return false;
        }

        s = s[(digits + 1)..];
        return true;
    }

    // The last field: decimal digits to the end.
    private static bool TryLastField(ReadOnlySpan<char> s, ulong max, out ulong value)
    {
        var digits = TryDigits(s, 10, max, out value);
        return digits > 0 && digits == s.Length;
    }

    // How many leading characters of s are digits of the radix (0 when the number exceeds max).
    private static int TryDigits(ReadOnlySpan<char> s, uint radix, ulong max, out ulong value)
    {
        value = 0;
        var i = 0;
        for (; i < s.Length; i++)
        {
            var c = s[i];
            uint digit;
            if ((uint)(c - '0') <= 9)
            {
                digit = (uint)(c - '0');
            }
            else if (radix == 16 && (uint)((c | 0x20) - 'a') <= 5)
            {
                digit = (uint)((c | 0x20) - 'a' + 10);
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

        return i;
    }
}
