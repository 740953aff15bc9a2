namespace Sluice.Core.Subscriptions;

/// <summary>
/// The partitions whose cursor an ack or a seek changed, for <see cref="CursorWriter"/>: a bit each for partitions below
/// 64 and a set for the rest. Every ack makes one, and a stream that acks what it writes acks once per write, so the
/// common case (a few low partitions) allocates nothing.
/// </summary>
internal struct PartitionSet
{
    private const int Bits = 64;
    private ulong _low;
    private HashSet<int>? _high;

    public static PartitionSet Of(IEnumerable<int> partitions)
    {
        var set = default(PartitionSet);
        foreach (var p in partitions)
        {
            set.Add(p);
        }

        return set;
    }

    /// <summary>Partitions 0 to <paramref name="count"/> - 1: a subscription's every cursor (a seek, a flush of all).</summary>
    public static PartitionSet All(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var set = default(PartitionSet);
        set._low = count >= Bits ? ulong.MaxValue : (1UL << count) - 1;
        if (count > Bits)
        {
            set._high = new HashSet<int>(count - Bits);
            for (var p = Bits; p < count; p++)
            {
                set._high.Add(p);
            }
        }

        return set;
    }

    public static PartitionSet One(int partition)
    {
        var set = default(PartitionSet);
        set.Add(partition);
        return set;
    }

    public readonly bool IsEmpty => _low == 0 && _high is not { Count: > 0 };

    public void Add(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        if (partition < Bits)
        {
            _low |= 1UL << partition;
        }
        else
        {
            (_high ??= []).Add(partition);
        }
    }

    /// <summary>Each partition once: the low ones in ascending order, then the others.</summary>
    public readonly Enumerator GetEnumerator() => new(_low, _high);

    public struct Enumerator(ulong low, HashSet<int>? high)
    {
        private ulong _low = low;
        private HashSet<int>.Enumerator _high = high?.GetEnumerator() ?? default;
        private readonly bool _hasHigh = high is not null;

        public int Current { get; private set; }

        public bool MoveNext()
        {
            if (_low != 0)
            {
                Current = System.Numerics.BitOperations.TrailingZeroCount(_low);
                _low &= _low - 1;
                return true;
            }

            if (_hasHigh && _high.MoveNext())
            {
                Current = _high.Current;
                return true;
            }

            return false;
        }
    }
}
