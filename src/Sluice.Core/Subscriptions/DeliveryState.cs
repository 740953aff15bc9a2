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

    /// <summary>The record's key as a string, for key_shared bookkeeping; null for unkeyed records.</summary>
    public string? KeyId { get; } = keyId;

    public int Attempt { get; set; }

    public EntryState State { get; set; }

    public ConsumerState? Holder { get; set; }

    public DateTimeOffset Deadline { get; set; }

    public LinkedListNode<Entry>? LeaseNode { get; set; }

    public DateTimeOffset AvailableAt { get; set; }
}

/// <summary>A record read ahead from the log and not yet delivered.</summary>
internal readonly record struct Buffered(StoredRecord Record, string? KeyId);

/// <summary>One partition of one subscription: durable cursor plus the in-memory delivery state.</summary>
internal sealed class PartitionState(int partition, PartitionCursor cursor)
{
    public int Partition { get; } = partition;

    public PartitionCursor Cursor { get; } = cursor;

    /// <summary>Next offset the read-ahead asks the log for.</summary>
    public long ReadPosition { get; set; } = cursor.Committed;

    /// <summary>Changes on seek so a read that was running across it is discarded.</summary>
    public int FetchEpoch { get; set; }

    public LinkedList<Buffered> Buffer { get; } = new();

    public Dictionary<long, Entry> Outstanding { get; } = [];

    /// <summary>Offsets of entries ready for redelivery: delivered first, in offset order.</summary>
    public SortedSet<long> Ready { get; } = [];

    /// <summary>Outstanding offsets per key, so a key's next message waits for the earlier ones (key_shared).</summary>
    public Dictionary<string, SortedSet<long>> KeyOutstanding { get; } = new(StringComparer.Ordinal);

    public TaskCompletionSource? SpaceWaiter { get; set; }

    /// <summary>
    /// This instance delivers the partition. Always true on a single instance; in a fleet only for the partitions the
    /// coordinator assigned here (the others keep a cursor that mirrors the owner's, for lag, and nothing else).
    /// </summary>
    public bool Owned { get; set; } = true;

    /// <summary>Stops this partition's read-ahead alone (revoked); linked to the subscription's pump token.</summary>
    public CancellationTokenSource? Pump { get; set; }

    public void SignalSpace()
    {
        var waiter = SpaceWaiter;
        SpaceWaiter = null;
        waiter?.TrySetResult();
    }

    /// <summary>Drops all delivery state and continues reading at the committed offset.</summary>
    public void ClearDelivery()
    {
        foreach (var e in Outstanding.Values)
        {
            e.State = EntryState.Done;
            e.LeaseNode = null;
            e.Holder = null;
        }

        Buffer.Clear();
        Outstanding.Clear();
        Ready.Clear();
        KeyOutstanding.Clear();
        FetchEpoch++;
        ReadPosition = Cursor.Committed;
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
}
