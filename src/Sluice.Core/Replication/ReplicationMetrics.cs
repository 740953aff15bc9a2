using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Sluice.Core.Replication;

/// <summary>Meter <c>Sluice.Replication</c>: per replicator (tag <c>sluice.replicator</c>) and sink type (<c>sluice.sink</c>).</summary>
internal static class ReplicationMetrics
{
    private static readonly Meter Meter = new("Sluice.Replication");

    private static readonly Counter<long> Records = Meter.CreateCounter<long>("sluice.replicator.records_written", "{record}", "Records the target acknowledged");
    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>("sluice.replicator.bytes_written", "By", "Key, value and header bytes the target acknowledged");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("sluice.replicator.write_failures", "{batch}", "Batch writes that failed transiently (each is retried)");
    private static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("sluice.replicator.dead_lettered", "{record}", "Records sent to the dead-letter topic");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("sluice.replicator.write.duration", "s", "Time of one batch write, failed ones included");
    private static readonly Histogram<double> Delay = Meter.CreateHistogram<double>("sluice.replicator.delay", "s", "From a record's publish time to the target's acknowledgement (replication lag)");

    public static void OnWritten(string replicator, string sink, int records, long bytes, double seconds, double delaySeconds)
    {
        var tags = Tags(replicator, sink);
        Records.Add(records, tags);
        Bytes.Add(bytes, tags);
        Duration.Record(seconds, tags);
        Delay.Record(delaySeconds, tags);
    }

    public static void OnFailed(string replicator, string sink, double seconds)
    {
        var tags = Tags(replicator, sink);
        Failures.Add(1, tags);
        Duration.Record(seconds, tags);
    }

    public static void OnDeadLettered(string replicator, string sink, int records) => DeadLetters.Add(records, Tags(replicator, sink));

    private static TagList Tags(string replicator, string sink) => new() { { "sluice.replicator", replicator }, { "sluice.sink", sink } };
}
