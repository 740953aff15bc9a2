namespace Sluice.Core.Delay;

/// <summary>
/// A page of pending delayed messages in delivery order (time, then partition, then production order).
/// </summary>
/// <param name="Count">Pending messages in <paramref name="Partitions"/>, all pages together.</param>
/// <param name="Entries">This page.</param>
/// <param name="Next">Where the next page starts (pass it as <c>after</c>), or null when this is the last.</param>
/// <param name="Partitions">
/// The partitions listed: every partition on one instance; in a fleet, those this instance schedules (each instance
/// lists the partitions it owns).
/// </param>
public sealed record DelayedPage(long Count, IReadOnlyList<DelayedEntry> Entries, string? Next, IReadOnlyList<int> Partitions)
{
    /// <summary>Bytes held in memory by the index of the listed partitions (16 per pending message in full buckets).</summary>
    public long IndexBytes { get; init; }
}
