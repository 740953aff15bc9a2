using Sluice.Core.Log;

namespace Sluice.Storage.Partitions;

/// <summary>
/// The last few stored batches of one partition that a read stopped inside, verified and decoded once and kept whole,
/// so that the reads that continue inside them (a subscription's read-ahead takes a few hundred records at a time, and
/// one batch produce stores a thousand or more in one batch) neither read nor CRC-check the batch again.
/// <code>
///   read at offset o ──► o in a cached batch ──► its records from o (shared, immutable)
///                    └─► else ─────────────────► segment read ──► stopped inside a batch: that batch decoded whole, Put
///                                                                 (by one read at a time: TryClaimDecode; the others
///                                                                  decode only the records they take)
/// </code>
/// Unlike the <see cref="TailCache"/> it serves any position, and it is bounded per partition by a fixed number of
/// batches (each at most <see cref="MaxEntryBytes"/>, together at most <see cref="MaxPartitionBytes"/>) and by the byte budget the tail caches share: a slow or lagging
/// reader holds at most the batch it is inside, never more as it falls behind. A batch is checked once, when it is
/// read from the file; what is cached is only ever what an intact batch decoded to.
/// </summary>
internal sealed class BatchCache
{
    /// <summary>A batch whose decoded records cost more than this is not kept: it is read again, as before.</summary>
    public const long MaxEntryBytes = 8L * 1024 * 1024;

    /// <summary>What one partition's cached batches may cost together (within the budget all caches share).</summary>
    public const long MaxPartitionBytes = 16L * 1024 * 1024;

    // Batches kept per partition: one per reader position that is inside a batch (subscriptions reading the same
    // partition at different places); more readers than slots evict each other and fall back to reading the file.
    private const int Slots = 8;

    private readonly Lock _gate = new();
    private readonly TailCacheBudget _budget;
    private readonly Entry?[] _entries = new Entry?[Slots];

    // Batches a read is decoding whole right now (see TryClaimDecode): a handful at most, one per concurrent reader.
    private readonly List<long> _decoding = [];
    private long _uses;
    private long _bytes;
    private long _lastHit;
    private bool _closed;

    public BatchCache(TailCacheBudget budget)
    {
        _budget = budget;
    }

    /// <summary>
    /// Serves a read from a cached batch holding <paramref name="offset"/>: its records from there, below
    /// <paramref name="end"/>, up to <paramref name="maxCount"/> records or about <paramref name="maxBytes"/> bytes (at
    /// least one). Null when no cached batch holds the offset.
    /// </summary>
    public ReadResult? TryRead(long offset, long end, int maxCount, int maxBytes)
    {
        lock (_gate)
        {
            foreach (var entry in _entries)
            {
                if (entry is not null && offset >= entry.BaseOffset && offset < entry.NextOffset)
                {
                    entry.LastUse = ++_uses;
                    _lastHit = Environment.TickCount64;
                    return entry.Read(offset, end, maxCount, maxBytes);
                }
            }

            return null;
        }
    }

    /// <summary>
    /// Keeps the decoded records of the intact batch [<paramref name="baseOffset"/>, <paramref name="nextOffset"/>)
    /// (all of them, in offset order), evicting the least recently used batch when the slots or the budget are full.
    /// Returns false (nothing kept) when it is too large or the budget is spent by other partitions.
    /// </summary>
    public bool Put(long baseOffset, long nextOffset, StoredRecord[] records)
    {
        var cost = TailCache.Cost(records);
        if (records.Length == 0 || cost > MaxEntryBytes)
        {
            return false;
        }

        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            var slot = -1;
            for (var i = 0; i < _entries.Length; i++)
            {
                if (_entries[i] is { } e && e.BaseOffset < nextOffset && baseOffset < e.NextOffset)
                {
                    // The same batch, put by another reader meanwhile: keep the one already there.
                    e.LastUse = ++_uses;
                    return true;
                }

                if (_entries[i] is null && slot < 0)
                {
                    slot = i;
                }
            }

            while (slot < 0 || _bytes + cost > MaxPartitionBytes || !_budget.TryTake(cost))
            {
                var oldest = OldestLocked();
                if (oldest < 0)
                {
                    return false; // nothing of ours left to give back, and the budget is still spent
                }

                RemoveLocked(oldest);
                slot = slot < 0 ? oldest : slot;
            }

            _entries[slot] = new Entry(baseOffset, nextOffset, records, cost) { LastUse = ++_uses };
            _bytes += cost;
            _lastHit = Environment.TickCount64;
            return true;
        }
    }

    /// <summary>
    /// Claims the whole decode of the batch at <paramref name="baseOffset"/> for the calling read, which then puts it
    /// (or not) and calls <see cref="EndDecode"/>. False when another read is decoding that batch now or has cached it
    /// since this read missed: this read then decodes only the records it takes. Readers meet at a batch's start (a
    /// subscription's read-ahead and its consumers' inline reads all reach it at once), and each decoded the whole
    /// batch, thousands of records, to keep one copy.
    /// </summary>
    public bool TryClaimDecode(long baseOffset)
    {
        lock (_gate)
        {
            if (_closed || _decoding.Contains(baseOffset))
            {
                return false;
            }

            foreach (var entry in _entries)
            {
                if (entry is not null && entry.BaseOffset == baseOffset)
                {
                    return false;
                }
            }

            _decoding.Add(baseOffset);
            return true;
        }
    }

    /// <summary>Ends a decode <see cref="TryClaimDecode"/> claimed, whether or not its batch was kept.</summary>
    public void EndDecode(long baseOffset)
    {
        lock (_gate)
        {
            _decoding.Remove(baseOffset);
        }
    }

    /// <summary>Drops everything: compaction rewrote records.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            for (var i = 0; i < _entries.Length; i++)
            {
                RemoveLocked(i);
            }
        }
    }

    /// <summary>Drops everything for good: the partition closed, and a read still finishing must not cache again.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            for (var i = 0; i < _entries.Length; i++)
            {
                RemoveLocked(i);
            }
        }
    }

    /// <summary>
    /// Drops the batches no read used for <paramref name="idleMs"/> (their memory serves other partitions) and those
    /// wholly below <paramref name="startOffset"/> (retention deleted them).
    /// </summary>
    public void Trim(long idleMs, long startOffset)
    {
        lock (_gate)
        {
            var idle = Environment.TickCount64 - _lastHit >= idleMs;
            for (var i = 0; i < _entries.Length; i++)
            {
                if (_entries[i] is { } e && (idle || e.NextOffset <= startOffset))
                {
                    RemoveLocked(i);
                }
            }
        }
    }

    /// <summary>Bytes held (for tests and diagnostics).</summary>
    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    /// <summary>
    /// Adds the records of one decoded batch (ending before <paramref name="batchNext"/>) from <paramref name="offset"/>
    /// on and below <paramref name="end"/> to <paramref name="output"/>, until <paramref name="maxCount"/> records or
    /// about <paramref name="maxBytes"/> bytes (at least one): what <c>RecordBatch.TryDecode</c> does with the bytes.
    /// <paramref name="nextOffset"/> becomes the offset after the last record taken, or the batch's next offset when the
    /// batch was taken to its end (so compaction gaps are skipped).
    /// </summary>
    public static void Take(
        StoredRecord[] records, long batchNext, long offset, long end, int maxCount, int maxBytes,
        List<StoredRecord> output, ref int bytes, ref long nextOffset)
    {
        var i = FirstAtOrAfter(records, offset);
        for (; i < records.Length; i++)
        {
            var record = records[i];
            if (record.Offset >= end || output.Count >= maxCount || (output.Count > 0 && bytes >= maxBytes))
            {
                return;
            }

            output.Add(record);
            bytes += (int)TailCache.Size(record);
            nextOffset = record.Offset + 1;
        }

        nextOffset = Math.Max(nextOffset, Math.Min(batchNext, end));
    }

    private static int FirstAtOrAfter(StoredRecord[] records, long offset)
    {
        int lo = 0, hi = records.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (records[mid].Offset < offset)
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

    private int OldestLocked()
    {
        var oldest = -1;
        for (var i = 0; i < _entries.Length; i++)
        {
            if (_entries[i] is { } e && (oldest < 0 || e.LastUse < _entries[oldest]!.LastUse))
            {
                oldest = i;
            }
        }

        return oldest;
    }

    private void RemoveLocked(int slot)
    {
        if (_entries[slot] is { } e)
        {
            _budget.Give(e.Cost);
            _bytes -= e.Cost;
            _entries[slot] = null;
        }
    }

    private sealed class Entry(long baseOffset, long nextOffset, StoredRecord[] records, long cost)
    {
        public long BaseOffset { get; } = baseOffset;

        public long NextOffset { get; } = nextOffset;

        public long Cost { get; } = cost;

        public long LastUse { get; set; }

        public ReadResult Read(long offset, long end, int maxCount, int maxBytes)
        {
            var output = new List<StoredRecord>(Math.Clamp(maxCount, 1, 1024));
            var bytes = 0;
            var next = offset;
            Take(records, NextOffset, offset, end, maxCount, maxBytes, output, ref bytes, ref next);
            return new ReadResult(output, output.Count == 0 ? Math.Max(next, Math.Min(NextOffset, end)) : next, end) { SharedRecords = true };
        }
    }
}
