namespace Sluice.Core.Delay;

/// <summary>
/// One pending delayed message of a holding partition: when it is due (epoch ms) and where it is held. Ordered by
/// (due, offset): messages due at the same time fire in the order they were produced. 16 bytes, no object.
/// </summary>
internal readonly record struct PendingEntry(long Due, long Offset) : IComparable<PendingEntry>
{
    /// <summary>Above every real key: what "nothing pending" compares as.</summary>
    public static readonly PendingEntry Max = new(long.MaxValue, long.MaxValue);

    public int CompareTo(PendingEntry other)
    {
        var c = Due.CompareTo(other.Due);
        return c != 0 ? c : Offset.CompareTo(other.Offset);
    }

    public static bool operator <(PendingEntry a, PendingEntry b) => a.CompareTo(b) < 0;

    public static bool operator >(PendingEntry a, PendingEntry b) => a.CompareTo(b) > 0;

    public static bool operator <=(PendingEntry a, PendingEntry b) => a.CompareTo(b) <= 0;

    public static bool operator >=(PendingEntry a, PendingEntry b) => a.CompareTo(b) >= 0;
}
