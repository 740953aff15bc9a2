using Sluice.Core.Log;

namespace Sluice.Storage.Partitions;

/// <summary>
/// The records most recently read at the end of one partition, decoded once and handed to every reader that asks for
/// them after: a topic with a thousand subscriptions is read from the file and decoded once per batch, not a thousand
/// times (the same idea as a broker's entry cache for the tail of a ledger).
/// <code>
///   read at offset o ──► o in [From, To) ──► records from memory (shared, immutable)
///                    └─► else ───────────► segment read ──► Offer: extends [From, To) when it continues or passes it
/// </code>
/// The cache covers a contiguous offset range: every record of the log in [From, To) is in it (offsets removed by
/// compaction are simply absent). It only moves forward, so a lagging reader never evicts the tail, and it is bounded
/// by record count per partition and by a byte budget shared by all partitions of the log.
/// </summary>
internal sealed class TailCache
{
    // Object headers, the value's array and the ring slot: what a record costs beyond its bytes.
    private const long PerRecordOverhead = 96;

    private const int InitialSlots = 64;

    private readonly Lock _gate = new();
    private readonly TailCacheBudget _budget;
    private readonly int _maxRecords;
    private StoredRecord[] _ring = [];
    private long[] _costs = [];
    private int _head;
    private int _count;
    private long _from;
    private long _to;
    private long _bytes;
    private long _lastHit;
    private bool _closed;

    public TailCache(TailCacheBudget budget, int maxRecords)
    {
        _budget = budget;
        _maxRecords = maxRecords;
    }

    /// <summary>Serves a read from memory when <paramref name="offset"/> lies in the cached range; null otherwise.</summary>
    public ReadResult? TryRead(long offset, long end, int maxCount, int maxBytes)
    {
        lock (_gate)
        {
            if (_count == 0 || offset < _from || offset >= _to)
            {
                return null;
            }

            _lastHit = Environment.TickCount64;
            var first = FirstAtOrAfter(offset);
            if (first == _count)
            {
                // Only offsets removed by compaction between the offset and the end of the cache.
                return new ReadResult(Array.Empty<StoredRecord>(), _to, end);
            }

            var output = new List<StoredRecord>(Math.Min(maxCount, _count - first));
            var bytes = 0L;
            var i = first;
            for (; i < _count && output.Count < maxCount && (output.Count == 0 || bytes < maxBytes); i++)
            {
                var slot = Slot(i);
                output.Add(_ring[slot]);
                bytes += _costs[slot] - PerRecordOverhead;
            }

            return new ReadResult(output, i == _count ? _to : output[^1].Offset + 1, end) { SharedRecords = true };
        }
    }

    /// <summary>
    /// Offers what a segment read returned for [<paramref name="from"/>, <paramref name="next"/>) of a log ending at
    /// <paramref name="end"/>: kept when it continues the cached range, or starts a new one when it is newer than the
    /// cache and within a cache's length of the end (a reader at the tail); ignored when it is older (a lagging reader).
    /// </summary>
    public void Offer(long from, long next, long end, IReadOnlyList<StoredRecord> records)
    {
        if (records.Count == 0 || next <= from)
        {
            return;
        }

        lock (_gate)
        {
            if (_closed || (_count > 0 && next <= _to))
            {
                return;
            }

            if (_count == 0 || from > _to)
            {
                if (end - from > _maxRecords)
                {
                    // Far from the end: a reader catching up, whose records the readers at the tail will not want.
                    return;
                }

                // Not contiguous with what is cached (or nothing is): start over at this read.
                ClearLocked();
                _from = _to = from;
            }

            foreach (var record in records)
            {
                if (record.Offset < _to)
                {
                    continue;
                }

                var cost = Size(record) + PerRecordOverhead;
                if (_count == _ring.Length && _ring.Length < _maxRecords)
                {
                    Grow();
                }

                while (_count > 0 && (_count == _ring.Length || !_budget.TryTake(cost)))
                {
                    EvictOldestLocked();
                }

                if (_count == 0 && !_budget.TryTake(cost))
                {
                    // The budget is spent by other partitions: cache nothing rather than take from them.
                    ClearLocked();
                    return;
                }

                var slot = Slot(_count);
                _ring[slot] = record;
                _costs[slot] = cost;
                _count++;
                _bytes += cost;
                if (_count == 1)
                {
                    _from = record.Offset;
                }
            }

            _to = next;
            _lastHit = Environment.TickCount64;
        }
    }

    /// <summary>Drops everything: compaction rewrote records.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            ClearLocked();
        }
    }

    /// <summary>Drops everything for good: the partition closed, and a read still finishing must not cache again.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            ClearLocked();
            _ring = [];
            _costs = [];
        }
    }

    /// <summary>Drops the cache when no read used it for <paramref name="idleMs"/>: its memory serves other partitions.</summary>
    public void ClearIfIdle(long idleMs)
    {
        lock (_gate)
        {
            if (_ring.Length > 0 && Environment.TickCount64 - _lastHit >= idleMs)
            {
                ClearLocked();
                _ring = [];
                _costs = [];
            }
        }
    }

    /// <summary>What <paramref name="records"/> cost a cache: their bytes and each one's overhead.</summary>
    public static long Cost(IReadOnlyList<StoredRecord> records)
    {
        var cost = 0L;
        foreach (var record in records)
        {
            cost += Size(record) + PerRecordOverhead;
        }

        return cost;
    }

    /// <summary>A record's key, value and header bytes.</summary>
    public static long Size(StoredRecord record)
    {
        long size = (record.Key?.Length ?? 0) + (record.Value?.Length ?? 0);

        // By index: a foreach over the interface allocates an enumerator per record, on every read.
        var headers = record.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            size += headers[i].Key.Length + headers[i].Value.Length;
        }

        return size;
    }

    private int Slot(int index) => (_head + index) % _ring.Length;

    // Allocated on first use and grown by doubling (the per-record overhead counted in the budget covers the slots), so
    // a partition read at its tail now and then holds a small ring, and an idle one none.
    private void Grow()
    {
        var length = Math.Min(_maxRecords, Math.Max(InitialSlots, _ring.Length * 2));
        var ring = new StoredRecord[length];
        var costs = new long[length];
        for (var i = 0; i < _count; i++)
        {
            ring[i] = _ring[Slot(i)];
            costs[i] = _costs[Slot(i)];
        }

        _ring = ring;
        _costs = costs;
        _head = 0;
    }

    // Index (0 .. _count) of the first cached record at or after offset; offsets ascend along the ring.
    private int FirstAtOrAfter(long offset)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_ring[Slot(mid)].Offset < offset)
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

    private void EvictOldestLocked()
    {
        var record = _ring[_head];
        _budget.Give(_costs[_head]);
        _bytes -= _costs[_head];
        _ring[_head] = null!;
        _head = (_head + 1) % _ring.Length;
        _count--;
        _from = record.Offset + 1;
    }

    private void ClearLocked()
    {
        _budget.Give(_bytes);
        _bytes = 0;
        Array.Clear(_ring);
        _head = _count = 0;
        _from = _to = 0;
    }
}

/// <summary>The bytes all partitions' tail caches may hold together.</summary>
internal sealed class TailCacheBudget(long maxBytes)
{
    private long _used;

    public long Used => Volatile.Read(ref _used);

    public bool TryTake(long bytes)
    {
        while (true)
        {
            var used = Volatile.Read(ref _used);
            if (used + bytes > maxBytes)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used)
            {
                return true;
            }
        }
    }

    public void Give(long bytes) => Interlocked.Add(ref _used, -bytes);
}
