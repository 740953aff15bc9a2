using System.Globalization;
using System.Text;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The durable part of one subscription partition: the committed offset (every offset below it is acked) and the
/// acked offset ranges above it. Ranges that become contiguous with the committed offset are folded into it at once,
/// so the set only holds the "holes" left by out-of-order acks.
/// </summary>
/// <remarks>
/// Persisted value (UTF-8, pinned by a golden test): <c>1|{generation:x}|{committed}|{start}-{end},{start}-{end}...</c>
/// with end exclusive and ranges ascending, disjoint and above the committed offset. <c>1</c> is the format version.
/// </remarks>
internal sealed class PartitionCursor
{
    // Ascending, disjoint, non-adjacent [Start, End) ranges, all starting above Committed.
    private readonly List<(long Start, long End)> _acked = [];

    public PartitionCursor(long committed)
    {
        Committed = committed;
    }

    public long Committed { get; private set; }

    public int RangeCount => _acked.Count;

    public bool IsAcked(long offset)
    {
        if (offset < Committed)
        {
            return true;
        }

        var i = FindFirstStartAbove(offset) - 1;
        return i >= 0 && _acked[i].End > offset;
    }

    /// <summary>Marks [start, end) acked.</summary>
    public void Add(long start, long end)
    {
        if (start < Committed)
        {
            start = Committed;
        }

        if (end <= start)
        {
            return;
        }

        // Merge with every range that overlaps or touches [start, end).
        var i = FindFirstStartAbove(start) - 1;
        if (i >= 0 && _acked[i].End >= start)
        {
            start = _acked[i].Start;
            end = Math.Max(end, _acked[i].End);
        }
        else
        {
            i++;
        }

        var j = i;
        while (j < _acked.Count && _acked[j].Start <= end)
        {
            end = Math.Max(end, _acked[j].End);
            j++;
        }

        _acked.RemoveRange(i, j - i);
        if (start == Committed)
        {
            Committed = end;
        }
        else
        {
            _acked.Insert(i, (start, end));
        }
    }

    /// <summary>Forgets everything and starts over at <paramref name="committed"/> (seek, or data lost to retention).</summary>
    public void Reset(long committed)
    {
        _acked.Clear();
        Committed = committed;
    }

    /// <summary>Takes over another cursor's state (a cursor written by another gateway instance).</summary>
    public void CopyFrom(PartitionCursor other)
    {
        _acked.Clear();
        _acked.AddRange(other._acked);
        Committed = other.Committed;
    }

    public byte[] Encode(long generation)
    {
        var sb = new StringBuilder(32 + _acked.Count * 16);
        sb.Append(CultureInfo.InvariantCulture, $"1|{generation:x}|{Committed}|");
        for (var i = 0; i < _acked.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            sb.Append(CultureInfo.InvariantCulture, $"{_acked[i].Start}-{_acked[i].End}");
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Parses a persisted value; false when it is malformed or of an unknown version.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, out long generation, out PartitionCursor cursor)
    {
        generation = 0;
        cursor = null!;
        var text = Encoding.UTF8.GetString(value);
        var parts = text.Split('|');
        if (parts.Length != 4 || parts[0] != "1"
            || !long.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out generation)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var committed))
        {
            return false;
        }

        var result = new PartitionCursor(committed);
        if (parts[3].Length > 0)
        {
            foreach (var range in parts[3].Split(','))
            {
                var dash = range.IndexOf('-');
                if (dash <= 0
                    || !long.TryParse(range.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                    || !long.TryParse(range.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var end)
                    || end <= start)
                {
                    return false;
                }

                result.Add(start, end);
            }
        }

        cursor = result;
        return true;
    }

    private int FindFirstStartAbove(long offset)
    {
        int lo = 0, hi = _acked.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_acked[mid].Start <= offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
