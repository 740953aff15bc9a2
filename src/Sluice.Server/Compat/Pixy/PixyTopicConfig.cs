using System.Globalization;
using Sluice.Core.Log;

namespace Sluice.Server.Compat.Pixy;

/// <summary>
/// What Pixy's topic metadata shows, from what the core knows: Kafka's names for the topic settings, a version of 1,
/// and partitions led by node 0 with that one replica (the core has no broker placement: on Kafka, ask Kafka for it).
/// </summary>
internal static class PixyTopicConfig
{
    public const int Version = 1;

    public const int Leader = 0;

    public static IEnumerable<KeyValuePair<string, string>> Of(TopicInfo info)
    {
        var s = info.Settings;
        yield return KeyValuePair.Create("cleanup.policy", s.Compacted ? "compact" : "delete");
        yield return KeyValuePair.Create("retention.bytes", (s.RetentionBytes ?? -1).ToString(CultureInfo.InvariantCulture));
        yield return KeyValuePair.Create("retention.ms", s.RetentionTime is { } t ? ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) : "-1");
    }
}
