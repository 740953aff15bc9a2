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

    public static bool TryParse(string? value, [NotNullWhen(true)] out AckId id)
    {
        id = default;
        if (value is null || value.Length > 100)
        {
            return false;
        }

        Span<Range> parts = stackalloc Range[6];
        var s = value.AsSpan();
        if (s.Split(parts, '.') != 5)
        {
            return false;
        }

        if (s[parts[1]] is "*" && s[parts[4]] is "*")
        {
            if (long.TryParse(s[parts[0]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var g)
                && int.TryParse(s[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out var p)
                && long.TryParse(s[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var o))
            {
                id = Position(g, p, o);
                return true;
            }

            return false;
        }

        if (long.TryParse(s[parts[0]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var generation)
            && uint.TryParse(s[parts[1]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var epoch)
            && int.TryParse(s[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && long.TryParse(s[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            && int.TryParse(s[parts[4]], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt)
            && attempt >= 1)
        {
            id = new AckId(generation, epoch, partition, offset, attempt);
            return true;
        }

        return false;
    }
}
