namespace Sluice.Core.Delay;

/// <summary>
/// The pending delayed messages of one holding partition, as (due, offset) pairs in struct arrays: 16 bytes per
/// message and no object per message (Pulsar's first delayed-delivery tracker kept a heap of objects and ran out of
/// memory with many delayed messages). Messages arrive in offset order (the scheduler reads its partition in order),
/// and the arrays are grouped into buckets by offset range, the idea of Pulsar's bucket tracker (PIP-195):
/// <code>
///   buckets in offset order:  [sealed: sorted by (due, offset), fired from the head] ... [open: a binary min-heap]
///   next to fire   = the smallest head over the buckets (a few dozen at most)
///   cancel(offset) = binary search for the bucket by offset range, then a scan of at most one bucket
/// </code>
/// The open bucket takes new messages; when it holds <see cref="BucketCapacity"/> it is sorted and sealed. A sealed
/// bucket's fired entries are a prefix and its cancelled ones are marked in place (offset stored as its complement);
/// once fewer than half of its slots are live it is copied into a right-sized array, and two neighbours that then fit
/// in half a bucket are merged, so memory follows the live count (at most twice it, plus one open bucket).
/// Not thread-safe: the owner serialises calls.
/// </summary>
internal sealed class PendingIndex
{
    /// <summary>Entries of a full bucket: 65,536 x 16 B = 1 MiB, sorted in a few milliseconds when sealed.</summary>
    public const int BucketCapacity = 1 << 16;

    /// <summary>Bytes per pending message in a full bucket.</summary>
    public const int EntryBytes = 16;

    // A topic with a handful of delayed messages holds a handful of slots, not a megabyte.
    private const int FirstOpenCapacity = 64;

    // Arrays below this are not worth copying to reclaim half of them.
    private const int MinCompactLength = 1024;

    private readonly List<Bucket> _buckets = [];

    /// <summary>Pending messages.</summary>
    public int Count { get; private set; }

    /// <summary>The highest offset ever added (-1 before the first): new ones must be above it.</summary>
    public long LastOffset { get; private set; } = -1;

    /// <summary>Bytes held by the arrays (live, fired-but-not-compacted and spare slots).</summary>
    public long ArrayBytes
    {
        get
        {
            long slots = 0;
            foreach (var b in _buckets)
            {
                slots += b.Items.Length;
            }

            return slots * EntryBytes;
        }
    }

    /// <summary>Buckets held (for tests and diagnostics).</summary>
    public int BucketCount => _buckets.Count;

    /// <summary>Adds a pending message; <paramref name="offset"/> must be above every offset added before.</summary>
    public void Add(long due, long offset)
    {
        if (offset <= LastOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"offsets must grow; the last added was {LastOffset}");
        }

        var open = _buckets.Count > 0 && !_buckets[^1].Sealed ? _buckets[^1] : NewOpenBucket(offset);
        if (open.Length == open.Items.Length)
        {
            Array.Resize(ref open.Items, Math.Min(BucketCapacity, open.Items.Length * 2));
        }

        HeapPush(open, new PendingEntry(due, offset));
        open.Live++;
        open.LastOffset = offset;
        LastOffset = offset;
        Count++;
        if (open.Length == BucketCapacity)
        {
            Array.Sort(open.Items, 0, open.Length);
            open.Sealed = true;
            open.Head = 0;
        }
    }

    /// <summary>The next message to fire: the smallest (due, offset).</summary>
    public bool TryPeekMin(out PendingEntry min)
    {
        var index = MinBucket();
        if (index < 0)
        {
            min = default;
            return false;
        }

        min = Head(_buckets[index]);
        return true;
    }

    /// <summary>Removes and returns the smallest (due, offset); the index must not be empty.</summary>
    public PendingEntry RemoveMin()
    {
        var index = MinBucket();
        if (index < 0)
        {
            throw new InvalidOperationException("the index is empty");
        }

        var b = _buckets[index];
        PendingEntry e;
        if (b.Sealed)
        {
            e = b.Items[b.Head];
            b.Head++;
            SkipTombstones(b);
        }
        else
        {
            e = HeapRemoveAt(b, 0);
        }

        b.Live--;
        Count--;
        AfterRemoval(index);
        return e;
    }

    /// <summary>Removes the message held at <paramref name="offset"/>; false when it is not pending.</summary>
    public bool Remove(long offset)
    {
        var index = FindBucket(offset);
        if (index < 0)
        {
            return false;
        }

        var b = _buckets[index];
        if (b.Sealed)
        {
            var i = b.Head;
            while (i < b.Length && b.Items[i].Offset != offset)
            {
                i++;
            }

            if (i == b.Length)
            {
                return false;
            }

            b.Items[i] = new PendingEntry(b.Items[i].Due, ~offset);
            if (i == b.Head)
            {
                SkipTombstones(b);
            }
        }
        else
        {
            var i = 0;
            while (i < b.Length && b.Items[i].Offset != offset)
            {
                i++;
            }

            if (i == b.Length)
            {
                return false;
            }

            HeapRemoveAt(b, i);
        }

        b.Live--;
        Count--;
        AfterRemoval(index);
        return true;
    }

    /// <summary>True when the message held at <paramref name="offset"/> is pending.</summary>
    public bool Contains(long offset)
    {
        var index = FindBucket(offset);
        if (index < 0)
        {
            return false;
        }

        var b = _buckets[index];
        for (var i = b.Sealed ? b.Head : 0; i < b.Length; i++)
        {
            if (b.Items[i].Offset == offset)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The lowest offset still pending, or null: everything below it is fired or cancelled.</summary>
    public long? MinOffset()
    {
        foreach (var b in _buckets)
        {
            if (b.Live == 0)
            {
                continue;
            }

            var min = long.MaxValue;
            for (var i = b.Sealed ? b.Head : 0; i < b.Length; i++)
            {
                var o = b.Items[i].Offset;
                if (o >= 0 && o < min)
                {
                    min = o;
                }
            }

            return min;
        }

        return null;
    }

    /// <summary>Adds to <paramref name="into"/> up to <paramref name="limit"/> pending entries above <paramref name="after"/>, in (due, offset) order.</summary>
    public void CollectAfter(PendingEntry after, int limit, List<PendingEntry> into)
    {
        var candidates = new List<PendingEntry>();
        foreach (var b in _buckets)
        {
            if (b.Sealed)
            {
                var taken = 0;
                for (var i = FirstAbove(b, after); i < b.Length && taken < limit; i++)
                {
                    if (b.Items[i].Offset >= 0)
                    {
                        candidates.Add(b.Items[i]);
                        taken++;
                    }
                }
            }
            else
            {
                for (var i = 0; i < b.Length; i++)
                {
                    if (b.Items[i] > after)
                    {
                        candidates.Add(b.Items[i]);
                    }
                }
            }
        }

        candidates.Sort();
        into.AddRange(candidates.Take(limit));
    }

    private Bucket NewOpenBucket(long firstOffset)
    {
        // A partition that has filled a bucket is likely to fill the next: it starts at full size rather than doubling
        // its way up (each doubling leaves the old array to the large-object heap until a full collection).
        var capacity = _buckets.Count > 0 ? BucketCapacity : FirstOpenCapacity;
        var b = new Bucket { Items = new PendingEntry[capacity], FirstOffset = firstOffset };
        _buckets.Add(b);
        return b;
    }

    // The bucket whose head is the smallest, or -1 when empty. Buckets are few: a linear pass beats a heap of heaps.
    private int MinBucket()
    {
        var best = -1;
        var bestHead = PendingEntry.Max;
        for (var i = 0; i < _buckets.Count; i++)
        {
            var b = _buckets[i];
            if (b.Live == 0)
            {
                continue;
            }

            var head = Head(b);
            if (best < 0 || head < bestHead)
            {
                best = i;
                bestHead = head;
            }
        }

        return best;
    }

    private static PendingEntry Head(Bucket b) => b.Sealed ? b.Items[b.Head] : b.Items[0];

    // The bucket whose offset range holds the offset (ranges are disjoint and in order), or -1.
    private int FindBucket(long offset)
    {
        int lo = 0, hi = _buckets.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_buckets[mid].FirstOffset <= offset)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found >= 0 && offset <= _buckets[found].LastOffset ? found : -1;
    }

    // First slot of a sealed bucket whose key is above `after` (cancelled slots keep their place in the order).
    private static int FirstAbove(Bucket b, PendingEntry after)
    {
        int lo = b.Head, hi = b.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            var e = b.Items[mid];
            if (new PendingEntry(e.Due, e.Offset >= 0 ? e.Offset : ~e.Offset) > after)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    private static void SkipTombstones(Bucket b)
    {
        while (b.Head < b.Length && b.Items[b.Head].Offset < 0)
        {
            b.Head++;
        }
    }

    private void AfterRemoval(int index)
    {
        var b = _buckets[index];
        if (b.Live == 0)
        {
            _buckets.RemoveAt(index);
            return;
        }

        if (!b.Sealed || b.Items.Length < MinCompactLength || b.Live * 2 >= b.Items.Length)
        {
            return;
        }

        // Fewer than half the slots live: copy the live ones into an array of their size.
        var live = new PendingEntry[b.Live];
        var n = 0;
        for (var i = b.Head; i < b.Length; i++)
        {
            if (b.Items[i].Offset >= 0)
            {
                live[n++] = b.Items[i];
            }
        }

        b.Items = live;
        b.Head = 0;
        b.Length = n;

        // Then merge with a sealed neighbour when both fit in half a bucket, so sparse buckets do not pile up.
        if (index + 1 < _buckets.Count && TryMerge(index))
        {
            return;
        }

        if (index > 0)
        {
            TryMerge(index - 1);
        }
    }

    // Merges bucket i+1 into bucket i when both are sealed and their live entries fit in half a bucket.
    private bool TryMerge(int i)
    {
        var a = _buckets[i];
        var b = _buckets[i + 1];
        if (!a.Sealed || !b.Sealed || a.Live + b.Live > BucketCapacity / 2)
        {
            return false;
        }

        var merged = new PendingEntry[a.Live + b.Live];
        int x = a.Head, y = b.Head, n = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && a.Items[x].Offset < 0)
            {
                x++;
            }
            else if (y < b.Length && b.Items[y].Offset < 0)
            {
                y++;
            }
            else if (y == b.Length || (x < a.Length && a.Items[x] < b.Items[y]))
            {
                merged[n++] = a.Items[x++];
            }
            else
            {
                merged[n++] = b.Items[y++];
            }
        }

        a.Items = merged;
        a.Head = 0;
        a.Length = n;
        a.Live = n;
        a.LastOffset = b.LastOffset;
        _buckets.RemoveAt(i + 1);
        return true;
    }

    private static void HeapPush(Bucket b, PendingEntry e)
    {
        var items = b.Items;
        var i = b.Length++;
        while (i > 0)
        {
            var parent = (i - 1) >> 1;
            if (items[parent] <= e)
            {
                break;
            }

            items[i] = items[parent];
            i = parent;
        }

        items[i] = e;
    }

    private static PendingEntry HeapRemoveAt(Bucket b, int i)
    {
        var items = b.Items;
        var removed = items[i];
        var last = items[--b.Length];
        if (i == b.Length)
        {
            return removed;
        }

        // Put the last entry in the hole, then move it up or down to where it belongs.
        var parentIndex = (i - 1) >> 1;
        if (i > 0 && last < items[parentIndex])
        {
            while (i > 0)
            {
                var parent = (i - 1) >> 1;
                if (items[parent] <= last)
                {
                    break;
                }

                items[i] = items[parent];
                i = parent;
            }
        }
        else
        {
            while (true)
            {
                var child = (2 * i) + 1;
                if (child >= b.Length)
                {
                    break;
                }

                if (child + 1 < b.Length && items[child + 1] < items[child])
                {
                    child++;
                }

                if (last <= items[child])
                {
                    break;
                }

                items[i] = items[child];
                i = child;
            }
        }

        items[i] = last;
        return removed;
    }

    private sealed class Bucket
    {
        public PendingEntry[] Items = [];

        /// <summary>Sealed only: the first slot not fired (always a live one, or <see cref="Length"/>).</summary>
        public int Head;

        /// <summary>Slots in use: the heap's size when open, the sorted length when sealed.</summary>
        public int Length;

        /// <summary>Entries neither fired nor cancelled.</summary>
        public int Live;

        public bool Sealed;

        /// <summary>The offset range this bucket took messages from (for finding an offset's bucket).</summary>
        public long FirstOffset;

        public long LastOffset;
    }
}
