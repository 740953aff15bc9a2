using System.Diagnostics.Metrics;

namespace Sluice.Storage;

/// <summary>
/// The embedded log's instruments on the <c>Sluice.Storage</c> meter. Recorded once per group commit (one write, at
/// most one fsync), never per record, and untagged: a partition label would multiply the series by every partition.
/// </summary>
internal static class StorageMetrics
{
    public const string MeterName = "Sluice.Storage";

    private static readonly Meter Meter = new(MeterName);

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
}
