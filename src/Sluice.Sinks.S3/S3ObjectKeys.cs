using System.Globalization;
using Sluice.Core.Topics;

namespace Sluice.Sinks.S3;

/// <summary>
/// Object keys: <c>{prefix}{tenant}/{namespace}/{topic}/{partition:0000}/{firstOffset:0000000000000000000}.ndjson</c>.
/// The topic is always in the key, so topics sharing a prefix never collide; names cannot contain '/', so no two
/// topics make the same key; zero-padding makes the keys of a partition sort in offset order.
/// </summary>
internal static class S3ObjectKeys
{
    public const string Suffix = ".ndjson";

    /// <summary>1024 (S3's limit) less the longest rest: 3 × 255 name bytes, 4 '/', 4 partition and 19 offset digits, the suffix.</summary>
    public const int MaxPrefixBytes = 1024 - (3 * 255) - 4 - 4 - 19 - 7;

    private const string OffsetFormat = "D19";

    /// <summary>The folder of one source partition's objects under <paramref name="prefix"/>.</summary>
    public static string Folder(string prefix, TopicName topic, int partition)
        => $"{prefix}{topic}/{partition.ToString("D4", CultureInfo.InvariantCulture)}/";

    public static string Key(string folder, long firstOffset) => folder + Name(firstOffset);

    /// <summary>The key of <paramref name="offset"/>'s object without its suffix: sorts just before that object's key.</summary>
    public static string Before(string folder, long offset) => folder + offset.ToString(OffsetFormat, CultureInfo.InvariantCulture);

    /// <summary>The first offset a key of <paramref name="folder"/> names, or null for a key this sink did not make.</summary>
    public static long? FirstOffset(string folder, string key)
    {
        if (!key.StartsWith(folder, StringComparison.Ordinal) || !key.EndsWith(Suffix, StringComparison.Ordinal) || key.Length != folder.Length + 19 + Suffix.Length)
        {
            return null;
        }

        return long.TryParse(key.AsSpan(folder.Length, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ? offset : null;
    }

    private static string Name(long firstOffset) => firstOffset.ToString(OffsetFormat, CultureInfo.InvariantCulture) + Suffix;
}
