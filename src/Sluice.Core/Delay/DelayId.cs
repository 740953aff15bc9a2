using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Sluice.Core.Delay;

/// <summary>
/// A delayed message's id, <c>d:{partition}:{offset}:{generation}</c>: where it is held (the holding topic's partition,
/// which is also the partition it will be delivered to, and offset) and which generation of its topic's holding topic
/// holds it, so an id from before the topic was deleted and made again never names a message of the new one.
/// Opaque to clients; stable from the produce answer on.
/// </summary>
internal readonly record struct DelayId(int Partition, long Offset, long Generation)
{
    public const string Prefix = "d:";

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Partition}:{Offset}:{Generation}");

    public static bool TryParse([NotNullWhen(true)] string? text, out DelayId id)
    {
        id = default;
        if (text is null || !text.StartsWith(Prefix, StringComparison.Ordinal) || text.Length > 80)
        {
            return false;
        }

        var parts = text.AsSpan(Prefix.Length);
        Span<Range> ranges = stackalloc Range[4];
        if (parts.Split(ranges, ':') != 3)
        {
            return false;
        }

        if (!int.TryParse(parts[ranges[0]], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            || !long.TryParse(parts[ranges[1]], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            || !long.TryParse(parts[ranges[2]], NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            || generation < 1)
        {
            return false;
        }

        id = new DelayId(partition, offset, generation);
        return true;
    }
}
