using Microsoft.Extensions.Logging;
using Sluice.Core.Log;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The part of a subscription that only matters in a fleet (<see cref="IPartitionCoordinator.IsShared"/>): joining
/// the subscription's group on the first consumer, leaving it when the last is gone, and taking over or handing over
/// partitions as the group assigns them.
/// <code>
/// first consumer ──► JoinAsync ──► OnAssigned(p): catch up the cursor topic, copy p's cursor, read-ahead from it
/// group rebalance ──► OnRevoked(p): stop p's read-ahead, drop its leases, append p's cursor ──► next owner assigned
/// no consumer for the session timeout ──► leave (revokes everything)
/// </code>
/// </summary>
internal sealed partial class Subscription : IPartitionAssignmentHandler
{
    private readonly SemaphoreSlim _membershipLock = new(1, 1);
    private IPartitionMembership? _membership;

    /// <summary>Changes with every seek; a fleet member applies a seek made elsewhere when it sees a new token.</summary>
    public long SeekToken { get; set; }

    /// <summary>True when this instance delivers the partition (always on a single instance).</summary>
    public bool IsOwned(int partition)
    {
        lock (_gate)
        {
            return partition < _partitions.Count && _partitions[partition].Owned;
        }
    }

    /// <summary>Joins the subscription's group unless already a member; completes after the first assignment.</summary>
    public async ValueTask EnsureJoinedAsync(CancellationToken cancellationToken)
    {
        if (!_ctx.Coordinator.IsShared || Volatile.Read(ref _membership) is not null)
        {
            return;
        }

        await _membershipLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_membership is null && !Deleted)
            {
                _membership = await _ctx.Coordinator.JoinAsync(Topic, Name, Generation, this, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _membershipLock.Release();
        }

        // A deletion (or the last consumer's end) while the join was under way found no membership to leave: LeaveAsync
        // leaves now if the subscription is idle or deleted by then (and does nothing otherwise), or this instance would
        // stay in the group of a dead generation for good, holding its partitions. Either that leave or this one sees
        // the other's write (both read under _gate).
        await LeaveAsync().ConfigureAwait(false);
    }

    /// <summary>A cursor written by the owner of a partition this instance does not own: mirror it (for lag).</summary>
    public void ApplyRemoteCursor(int partition, PartitionCursor cursor)
    {
        lock (_gate)
        {
            if (Deleted)
            {
                return;
            }

            EnsurePartitionsLocked(partition + 1);
            if (!_partitions[partition].Owned)
            {
                _partitions[partition].Cursor.CopyFrom(cursor);
            }
        }
    }

    /// <summary>Tells the backend's own tools how far the partition is acked (Kafka's committed offset).</summary>
    public void PublishCommitted(int partition)
    {
        if (!_ctx.Coordinator.IsShared)
        {
            return;
        }

        long committed;
        lock (_gate)
        {
            if (partition >= _partitions.Count || !_partitions[partition].Owned)
            {
                return;
            }

            committed = _partitions[partition].Cursor.Committed;
        }

        Volatile.Read(ref _membership)?.Commit(partition, committed);
    }

    async Task IPartitionAssignmentHandler.OnAssignedAsync(IReadOnlyList<int> partitions)
    {
        if (partitions.Count == 0)
        {
            return;
        }

        // The previous owner appended its cursors before the group moved on; read the cursor topic up to now.
        var fleet = _ctx.Fleet ?? throw new InvalidOperationException("partition assignment without a fleet");
        await fleet.CatchUpCursorsAsync(CancellationToken.None).ConfigureAwait(false);
        lock (_gate)
        {
            if (Deleted)
            {
                return;
            }

            EnsurePartitionsLocked(partitions.Max() + 1);
            foreach (var partition in partitions)
            {
                var p = _partitions[partition];
                if (fleet.TryGetCursor(Topic, Name, partition, Generation) is { } durable)
                {
                    p.Cursor.CopyFrom(durable);
                }

                p.Owned = true;
                ClearPartition(p);
                if (_pumps is { } pumps)
                {
                    StartPump(p, pumps.Token);
                }
            }

            Signal();
        }

        Log.PartitionsAssigned(_ctx.Logger, Topic, Name, string.Join(',', partitions));
    }

    async Task IPartitionAssignmentHandler.OnRevokedAsync(IReadOnlyList<int> partitions)
    {
        var records = new List<RecordToAppend>(partitions.Count);
        lock (_gate)
        {
            foreach (var partition in partitions)
            {
                if (partition >= _partitions.Count || !_partitions[partition].Owned)
                {
                    continue;
                }

                var p = _partitions[partition];
                ClearPartition(p);
                p.Pump?.Cancel();
                p.Pump = null;
                p.Owned = false;
                if (!Deleted)
                {
                    records.Add(new RecordToAppend(StateTopics.Key(StateTopics.CursorKey(Topic, Name, partition)), p.Cursor.Encode(Generation)));
                }
            }

            Signal();
        }

        // The hand-over waits for this append: the next owner starts from it.
        if (records.Count > 0)
        {
            await _ctx.Log.AppendAsync(StateTopics.Cursors, 0, records).ConfigureAwait(false);
        }

        Log.PartitionsRevoked(_ctx.Logger, Topic, Name, string.Join(',', partitions));
    }

    private void StartLeave()
    {
        if (_ctx.Coordinator.IsShared && Volatile.Read(ref _membership) is not null)
        {
            _ = LeaveAsync();
        }
    }

    /// <summary>Leaves the subscription's group when no consumer is attached (or it was deleted); the group revokes first.</summary>
    public async Task LeaveAsync()
    {
        await _membershipLock.WaitAsync().ConfigureAwait(false);
        try
        {
            // A consumer may have attached again while this waited: then stay.
            bool idle;
            lock (_gate)
            {
                idle = _consumers.Count == 0 || Deleted;
            }

            if (idle && _membership is { } membership)
            {
                _membership = null;
                await membership.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Log.LeaveFailed(_ctx.Logger, Topic, Name, ex);
        }
        finally
        {
            _membershipLock.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.PartitionsAssigned, LogLevel.Information, "Subscription '{Name}' on '{Topic}': this instance now delivers partitions {Partitions}")]
        public static partial void PartitionsAssigned(ILogger logger, Topics.TopicName topic, string name, string partitions);

        [LoggerMessage(CoreEventIds.PartitionsRevoked, LogLevel.Information, "Subscription '{Name}' on '{Topic}': partitions {Partitions} handed over")]
        public static partial void PartitionsRevoked(ILogger logger, Topics.TopicName topic, string name, string partitions);

        [LoggerMessage(CoreEventIds.LeaveFailed, LogLevel.Warning, "Subscription '{Name}' on '{Topic}': leaving its group failed")]
        public static partial void LeaveFailed(ILogger logger, Topics.TopicName topic, string name, Exception exception);
    }
}
