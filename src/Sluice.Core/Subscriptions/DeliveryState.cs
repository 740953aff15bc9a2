using Microsoft.Extensions.Logging;
using Sluice.Core.Log;

namespace Sluice.Core.Subscriptions;

/// <summary>What every subscription of one engine shares.</summary>
internal sealed record EngineContext(IMessageLog Log, TimeProvider Time, DeliveryOptions Options, ILogger Logger, CursorWriter Writer, IPartitionCoordinator Coordinator)
{
    /// <summary>Set when <see cref="IPartitionCoordinator.IsShared"/>: what the engine learns from the other instances.</summary>
    public Fleet? Fleet { get; init; }
}

/// <summary>Where a delivered-but-unacked message stands.</summary>
internal enum EntryState
{
    /// <summary>Leased to <see cref="Entry.Holder"/> until <see cref="Entry.Deadline"/>.</summary>
    InFlight,

    /// <summary>Waiting in <see cref="PartitionState.Ready"/> for redelivery.</summary>
    Ready,

    /// <summary>Nacked with a delay; becomes ready at <see cref="Entry.AvailableAt"/>.</summary>
    Delayed,

    /// <summary>Being appended to the dead-letter topic; acked once that append is durable.</summary>
    DeadLettering,

    /// <summary>Acked, or dropped by a seek; no longer tracked.</summary>
    Done,
}

/// <summary>A message delivered at least once and not yet acked. Held in memory only: attempts restart after a restart.</summary>
internal sealed class Entry(int partition, StoredRecord record, string? keyId)
{
    public int Partition { get; } = partition;

    public StoredRecord Record { get; } = record;

    public long Offset => Record.Offset;

    /// <summary>The record's key as a string, for key_shared bookkeeping; null for unkeyed records, and on other subscription types.</summary>
    public string? KeyId { get; set; } = keyId;

    public int Attempt { get; set; }

    public EntryState State { get; set; }

    public ConsumerState? Holder { get; set; }

    public DateTimeOffset Deadline { get; set; }

    // Links of the subscription's LeaseList: an entry is its own node there.
    public Entry? PreviousLease { get; set; }

    public Entry? NextLease { get; set; }

    public bool Leased { get; set; }

    public DateTimeOffset AvailableAt { get; set; }
}

/// <summary>A record read ahead from the log and not yet delivered; its key named only on key_shared subscriptions.</summary>
internal readonly record struct Buffered(StoredRecord Record, string? KeyId);

/// <summary>
/// Leased entries in the order they were leased, which is deadline order (every lease of a subscription runs for its ack
/// deadline). Intrusive: each entry is its own node, so leasing and settling allocate nothing.
/// </summary>
internal sealed class LeaseList
{
    private Entry? _last;

    public Entry? First { get; private set; }

    public int Count { get; private set; }

    public void AddLast(Entry e)
    {
        e.PreviousLease = _last;
        e.NextLease = null;
        if (_last is null)
        {
            First = e;
        }
        else
        {
            _last.NextLease = e;
        }

        _last = e;
        e.Leased = true;
        Count++;
    }

    public void Remove(Entry e)
    {
        if (!e.Leased)
        {
            return;
        }

        if (e.PreviousLease is { } previous)
        {
            previous.NextLease = e.NextLease;
        }
        else
        {
            First = e.NextLease;
        }

        if (e.NextLease is { } next)
        {
            next.PreviousLease = e.PreviousLease;
        }
        else
        {
            _last = e.PreviousLease;
        }

        e.PreviousLease = e.NextLease = null;
        e.Leased = false;
        Count--;
    }

    /// <summary>The entries <paramref name="holder"/> holds, in lease order.</summary>
    public List<Entry> HeldBy(ConsumerState holder)
    {
        var held = new List<Entry>();
        for (var e = First; e is not null; e = e.NextLease)
        {
            if (e.Holder == holder)
            {
                held.Add(e);
            }
        }

        return held;
    }
}

/// <summary>
/// A partition's read-ahead: a ring of records in offset order. Taking from the front is O(1); key_shared may take
/// from the middle (a blocked key is skipped), which shifts the rest, and the buffer is small (the read-ahead limit).
/// </summary>
internal sealed class ReadAheadBuffer
{
    private Buffered[] _items = new Buffered[16];
    private int _head;

    public int Count { get; private set; }

    public Buffered this[int index] => _items[(_head + index) % _items.Length];

    public void Replace(int index, Buffered item) => _items[(_head + index) % _items.Length] = item;

    public void AddLast(Buffered item)
    {
        if (Count == _items.Length)
        {
            var grown = new Buffered[_items.Length * 2];
            for (var i = 0; i < Count; i++)
            {
                grown[i] = this[i];
            }

            _items = grown;
            _head = 0;
        }

        _items[(_head + Count) % _items.Length] = item;
        Count++;
    }

    public void RemoveAt(int index)
    {
        if (index == 0)
        {
            _items[_head] = default;
            _head = (_head + 1) % _items.Length;
        }
        else
        {
            for (var i = index; i < Count - 1; i++)
            {
                _items[(_head + i) % _items.Length] = this[i + 1];
            }

            _items[(_head + Count - 1) % _items.Length] = default;
        }

        Count--;
    }

    public void Clear()
    {
        Array.Clear(_items);
        _head = 0;
        Count = 0;
    }
}

/// <summary>One partition of one subscription: durable cursor plus the in-memory delivery state.</summary>
internal sealed class PartitionState(int partition, PartitionCursor cursor)
{
    public int Partition { get; } = partition;

    public PartitionCursor Cursor { get; } = cursor;

    /// <summary>Next offset the read-ahead asks the log for.</summary>
    public long ReadPosition { get; set; } = cursor.Committed;

    /// <summary>
    /// The log's end offset as the last read of this partition (the read-ahead's or a receive's) saw it; before the first,
    /// unknown, and taken as "more to read".
    /// </summary>
    public long LogEnd { get; set; } = long.MaxValue;

    /// <summary>
    /// Changes whenever the delivery state is cleared (a seek, a reassignment in a fleet, a cursor reset), so a read
    /// that was running across it is discarded and held deliveries taken before it are stale (neither acked nor returned).
    /// </summary>
    public int FetchEpoch { get; set; }

    public ReadAheadBuffer Buffer { get; } = new();

    public Dictionary<long, Entry> Outstanding { get; } = [];

    /// <summary>Taken held (no entry; see <see cref="Delivery.HeldBy"/>) since the last clear, not yet acked or returned.</summary>
    public int Held { get; set; }

    /// <summary>Offsets of entries ready for redelivery: delivered first, in offset order.</summary>
    public SortedSet<long> Ready { get; } = [];

    /// <summary>Outstanding offsets per key, so a key's next message waits for the earlier ones (key_shared).</summary>
    public Dictionary<string, SortedSet<long>> KeyOutstanding { get; } = new(StringComparer.Ordinal);

    public TaskCompletionSource? SpaceWaiter { get; set; }

    /// <summary>Records of this partition the subscription's filter did not match, since this instance started.</summary>
    public long FilteredOut { get; set; }

    /// <summary>Damaged ranges skipped since the server started, the most recent <see cref="MaxSkippedKept"/> (the log keeps all).</summary>
    public List<CorruptRange>? Skipped { get; private set; }

    /// <summary>The damaged range delivery stopped at, under <see cref="CorruptRecordsPolicy.Stop"/>; null when not stopped.</summary>
    public CorruptRange? StoppedAt { get; set; }

    public const int MaxSkippedKept = 32;

    public void AddSkipped(CorruptRange range)
    {
        Skipped ??= [];
        if (Skipped.Count == MaxSkippedKept)
        {
            Skipped.RemoveAt(0);
        }

        Skipped.Add(range);
    }

    /// <summary>
    /// This instance delivers the partition. Always true on a single instance; in a fleet only for the partitions the
    /// coordinator assigned here (the others keep a cursor that mirrors the owner's, for lag, and nothing else).
    /// </summary>
    public bool Owned { get; set; } = true;

    /// <summary>Stops this partition's read-ahead alone (revoked); linked to the subscription's pump token.</summary>
    public CancellationTokenSource? Pump { get; set; }

    /// <summary>
    /// The read-ahead should read: at most half full (so one read brings many records, rather than one after every
    /// take) and below the unacked limit.
    /// </summary>
    public bool HasRoom(DeliveryOptions options)
        => Buffer.Count <= options.ReadAheadMessages / 2 && Outstanding.Count + Held < options.MaxUnackedPerPartition;

    public void SignalSpace()
    {
        var waiter = SpaceWaiter;
        SpaceWaiter = null;
        waiter?.TrySetResult();
    }

    /// <summary>
    /// Drops all delivery state and continues reading at the committed offset. The subscription takes the entries'
    /// leases back first (Subscription.ClearPartition).
    /// </summary>
    public void ClearDelivery()
    {
        foreach (var e in Outstanding.Values)
        {
            e.State = EntryState.Done;
        }

        Buffer.Clear();
        Outstanding.Clear();
        Ready.Clear();
        KeyOutstanding.Clear();

        // What consumers hold from before is stale now (its epoch is the old one): neither acked nor returned here.
        Held = 0;
        FetchEpoch++;
        ReadPosition = Cursor.Committed;
        StoppedAt = null;
        SignalSpace();
    }
}

/// <summary>A registered consumer: stays registered while attached and for a session timeout after.</summary>
internal sealed class ConsumerState(string id, long order)
{
    public string Id { get; } = id;

    /// <summary>Registration order: the failover active consumer is the earliest registered.</summary>
    public long Order { get; } = order;

    public int Handles { get; set; }

    public DateTimeOffset LastSeen { get; set; }

    public int InFlight { get; set; }

    public bool Registered { get; set; } = true;

    /// <summary>A session-expiry check for this consumer is in the subscription's queue.</summary>
    public bool SessionQueued { get; set; }

    public CancellationTokenSource Ended { get; } = new();

    /// <summary>Set once, before <see cref="Ended"/> is cancelled.</summary>
    public ConsumerEndReason? EndReason => Volatile.Read(ref _endReason) is var r and >= 0 ? (ConsumerEndReason)r : null;

    private int _endReason = -1;

    /// <summary>
    /// Ends the consumer. The token is cancelled at once but its callbacks run on the thread pool: a consumer's reaction
    /// to its end (a loop that opens again, a stream that closes) never runs inside the engine call that ended it, which
    /// may hold the admin lock (a delete) or the subscription's.
    /// </summary>
    public void End(ConsumerEndReason reason)
    {
        if (Interlocked.CompareExchange(ref _endReason, (int)reason, -1) == -1)
        {
            _ = Ended.CancelAsync();
        }
    }
}
