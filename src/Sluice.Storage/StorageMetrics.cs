using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Core.Topics;

namespace Sluice.Storage;

/// <summary>
/// Instruments of the embedded log on the <c>Sluice.Storage</c> meter: group commits (untagged), and faults tagged with
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

    // Group commits: recorded once per commit (one write, at most one fsync), never per record, and untagged: a
    // partition label would multiply these series by every partition.
    private static readonly Counter<long> Appends = Meter.CreateCounter<long>(
        "sluice.storage.appends", "{append}", "Appends to partitions (a produce request, a batch, a cursor write): each one record batch");

    private static readonly Counter<long> Records = Meter.CreateCounter<long>(
        "sluice.storage.records", "{record}", "Records appended");

    private static readonly Counter<long> BytesWritten = Meter.CreateCounter<long>(
        "sluice.storage.written", "By", "Bytes written to segment files (record batches with their headers)");

    private static readonly Counter<long> Fsyncs = Meter.CreateCounter<long>(
        "sluice.storage.fsyncs", "{fsync}", "Forced flushes of segment data to disk (flush policy always: one per group commit)");

    private static readonly Histogram<long> GroupCommitSize = Meter.CreateHistogram<long>(
        "sluice.storage.group_commit.size", "{append}", "Appends written together by one group commit (one write and one fsync)",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });

    public static void OnGroupCommit(int appends, long records, long bytes, bool fsynced)
    {
        Appends.Add(appends);
        Records.Add(records);
        BytesWritten.Add(bytes);
        GroupCommitSize.Record(appends);
        if (fsynced)
        {
            Fsyncs.Add(1);
        }
    }

    public static void OnFsync() => Fsyncs.Add(1);

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
