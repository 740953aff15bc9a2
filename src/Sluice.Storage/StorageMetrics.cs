using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Core.Topics;

namespace Sluice.Storage;

/// <summary>
/// Counters of the embedded log on the <c>Sluice.Storage</c> meter, tagged like the engine's with
/// <c>messaging.destination.name</c> (the topic) and <c>messaging.destination.partition.id</c>.
/// </summary>
internal static class StorageMetrics
{
    public const string MeterName = "Sluice.Storage";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Full = Meter.CreateCounter<long>(
        "sluice.storage.full_errors", "{append}", "Appends refused because the storage had no space left (nothing written)");

    private static readonly Counter<long> Corrupt = Meter.CreateCounter<long>(
        "sluice.storage.corrupt_ranges", "{range}", "Ranges of damaged records found (each counted once per process)");

    private static readonly Counter<long> CorruptOffsets = Meter.CreateCounter<long>(
        "sluice.storage.corrupt_offsets", "{offset}", "Offsets in the damaged ranges found");

    public static void OnFull(TopicName topic, int partition, int appends)
    {
        if (Full.Enabled)
        {
            Full.Add(appends, Tags(topic, partition));
        }
    }

    public static void OnCorrupt(TopicName topic, int partition, long offsets)
    {
        if (Corrupt.Enabled)
        {
            Corrupt.Add(1, Tags(topic, partition));
        }

        if (CorruptOffsets.Enabled)
        {
            CorruptOffsets.Add(offsets, Tags(topic, partition));
        }
    }

    private static TagList Tags(TopicName topic, int partition) => new()
    {
        { "messaging.destination.name", topic.ToString() },
        { "messaging.destination.partition.id", partition.ToString(System.Globalization.CultureInfo.InvariantCulture) },
    };
}
