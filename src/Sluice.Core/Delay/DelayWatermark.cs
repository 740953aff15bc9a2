namespace Sluice.Core.Delay;

/// <summary>
/// A holding partition's durable progress, written by its owner after firing:
/// every message below <see cref="ReadTo"/> whose (due, offset) is below <see cref="Boundary"/> was fired or cancelled,
/// and nothing below <see cref="ScanFrom"/> is pending. After a crash the next owner scans from <see cref="ScanFrom"/>
/// and takes every other message as pending: what fired after the last write fires again (at-least-once), nothing is lost.
/// </summary>
/// <remarks>
/// Why this is exact: the owner fires in (due, offset) order, so when it writes, <see cref="Boundary"/> is its smallest
/// pending key, and every message it had read (offsets below <see cref="ReadTo"/>) with a smaller key is gone from its
/// index. A message read later is pending whatever its key (it may be due in the past, e.g. stamped by a lagging clock).
/// </remarks>
/// <param name="Boundary">The smallest pending (due, offset) when written; <see cref="PendingEntry.Max"/> when none.</param>
/// <param name="ReadTo">The offset up to which the partition had been read into the index.</param>
/// <param name="ScanFrom">The lowest pending offset (or <paramref name="ReadTo"/> when none).</param>
/// <param name="Pending">Messages pending when written (for a fleet's listing).</param>
internal readonly record struct DelayWatermark(PendingEntry Boundary, long ReadTo, long ScanFrom, long Pending)
{
    public static readonly DelayWatermark Empty = new(PendingEntry.Max, 0, 0, 0);
}
