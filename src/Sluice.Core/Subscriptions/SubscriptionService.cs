using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The delivery engine behind <see cref="ISubscriptionService"/>. State is loaded lazily: the first call of any member
/// reads <c>__sluice/system/subscriptions</c> and <c>__sluice/system/cursors</c> (creating them when missing) under a
/// semaphore; later calls skip that. Create, update, delete and seek are serialised by one admin semaphore (they are rare
/// and do I/O); receive, ack and nack take only the subscription's own lock.
/// </summary>
/// <remarks>
/// Durability: an ack completes only after its cursor record is appended to the cursor topic. Leases and delivery
/// attempts are memory only: after a restart every unacked message is delivered again, with attempt counting restarted
/// at 1 and ack ids issued before the restart reported unknown.
/// </remarks>
internal sealed partial class SubscriptionService : ISubscriptionService, IAsyncDisposable
{
    private readonly IMessageLog _log;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EngineContext _ctx;
    private readonly Fleet? _fleet;
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions;

    // The same dictionary looked up by a key written on the stack: a pull, an ack or a stream's open finds its
    // subscription without making the key string (two strings per lookup otherwise).
    private readonly ConcurrentDictionary<string, Subscription>.AlternateLookup<ReadOnlySpan<char>> _subscriptionsBySpan;
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private volatile bool _started;
    private bool _disposed;

    public SubscriptionService(IMessageLog log, TimeProvider time, IOptions<DeliveryOptions> options, ILoggerFactory loggerFactory)
        : this(log, time, options, loggerFactory, new LocalPartitionCoordinator())
    {
    }

    /// <summary>With a shared coordinator (Kafka) this engine is one member of a fleet: see <see cref="Fleet"/>.</summary>
    public SubscriptionService(IMessageLog log, TimeProvider time, IOptions<DeliveryOptions> options, ILoggerFactory loggerFactory, IPartitionCoordinator coordinator)
    {
        _subscriptions = new(StringComparer.Ordinal);
        _subscriptionsBySpan = _subscriptions.GetAlternateLookup<ReadOnlySpan<char>>();
        var o = options.Value;
        if (o.Validate() is { } reason)
        {
            throw new OptionsValidationException(nameof(DeliveryOptions), typeof(DeliveryOptions), [reason]);
        }

        _log = log;
        _time = time;
        _logger = loggerFactory.CreateLogger("Sluice.Core.Subscriptions");
        _fleet = coordinator.IsShared ? new Fleet(log, _logger) : null;
        _ctx = new EngineContext(log, time, o, _logger, new CursorWriter(log, o, _logger), coordinator) { Fleet = _fleet };
    }

    /// <inheritdoc />
    public void CollectCounts(ICollection<SubscriptionCounts> into)
    {
        foreach (var subscription in _subscriptions.Values)
        {
            if (!subscription.Deleted)
            {
                into.Add(subscription.Counters.Read(subscription.Topic, subscription.Name));
            }
        }
    }

    /// <summary>Loads durable state now instead of on first use (idempotent).</summary>
    public async ValueTask StartAsync(CancellationToken cancellationToken = default)
    {
        if (_started)
        {
            return;
        }

        await _startLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_started)
            {
                return;
            }

            ObjectDisposedException.ThrowIf(_disposed, this);
            await EnsureStateTopicAsync(StateTopics.Subscriptions, StateTopics.Settings, cancellationToken).ConfigureAwait(false);
            await EnsureStateTopicAsync(StateTopics.Cursors, StateTopics.Settings, cancellationToken).ConfigureAwait(false);
            var (subscriptions, subscriptionsNext) = await StateTopics.LoadWithPositionAsync(_log, StateTopics.Subscriptions, cancellationToken).ConfigureAwait(false);
            var (cursors, cursorsNext) = await StateTopics.LoadWithPositionAsync(_log, StateTopics.Cursors, cancellationToken).ConfigureAwait(false);

            var cursorsBySubscription = new Dictionary<string, List<(int Partition, ReadOnlyMemory<byte> Value)>>(StringComparer.Ordinal);
            foreach (var (key, value) in cursors)
            {
                if (value is null)
                {
                    continue;
                }

                if (!StateTopics.TrySplitCursorKey(key, out var subscriptionKey, out var partition))
                {
                    Log.StateRecordIgnored(_logger, StateTopics.Cursors, key);
                    continue;
                }

                if (!cursorsBySubscription.TryGetValue(subscriptionKey, out var list))
                {
                    cursorsBySubscription[subscriptionKey] = list = [];
                }

                list.Add((partition, value.Value));
                _fleet?.SeedCursor(key, value.Value);
            }

            foreach (var (key, value) in subscriptions)
            {
                if (value is null)
                {
                    continue;
                }

                var bar = key.IndexOf('|');
                if (bar <= 0 || !StateTopics.TryDecodeSubscription(value.Value.Span, out var settings, out var generation, out var seekToken, out _))
                {
                    Log.StateRecordIgnored(_logger, StateTopics.Subscriptions, key);
                    continue;
                }

                TopicName topic;
                try
                {
                    topic = TopicName.Parse(key[..bar]);
                }
                catch (InvalidNameException)
                {
                    Log.StateRecordIgnored(_logger, StateTopics.Subscriptions, key);
                    continue;
                }

                var partitionCursors = new Dictionary<int, PartitionCursor>();
                foreach (var (partition, cursorValue) in cursorsBySubscription.GetValueOrDefault(key) ?? [])
                {
                    // A cursor of an earlier subscription of the same name (deleted, recreated) is not this one's.
                    if (PartitionCursor.TryDecode(cursorValue.Span, out var cursorGeneration, out var cursor) && cursorGeneration == generation)
                    {
                        partitionCursors[partition] = cursor;
                    }
                }

                _subscriptions[key] = new Subscription(_ctx, topic, key[(bar + 1)..], settings, generation, partitionCursors) { SeekToken = seekToken };
            }

            if (_fleet is not null)
            {
                await EnsureStateTopicAsync(StateTopics.Acks, StateTopics.AcksSettings, cancellationToken).ConfigureAwait(false);
                var acks = await _log.DescribeTopicAsync(StateTopics.Acks, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(StateTopics.Acks);

                // Acks forwarded before this instance started name leases it never gave: follow from the end.
                _fleet.Start(subscriptionsNext, cursorsNext, acks.Partitions[0].EndOffset, ApplyRemoteSubscriptionAsync, ApplyRemoteCursorAsync, ApplyForwardedAcksAsync, _time);
            }

            Log.StateLoaded(_logger, _subscriptions.Count, cursors.Count);
            _started = true;
        }
        finally
        {
            _startLock.Release();
        }
    }

    public async ValueTask<SubscriptionInfo> CreateOrUpdateAsync(TopicName topic, string name, SubscriptionSettings settings, CancellationToken cancellationToken = default)
    {
        TopicName.ThrowIfInvalidPart(name, "subscription");
        ArgumentNullException.ThrowIfNull(settings);
        ValidateSettings(settings);
        ValidateDeadLetterTopic(topic, settings);
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        Subscription subscription;
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Lookup(topic, name) is { } existing)
            {
                existing.UpdateSettings(settings);
                await WriteSubscriptionRecordAsync(existing, cancellationToken).ConfigureAwait(false);
                subscription = existing;
            }
            else
            {
                subscription = await CreateLockedAsync(topic, name, settings, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _adminLock.Release();
        }

        var info = await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false);
        return subscription.Info(info?.Partitions);
    }

    public async ValueTask<SubscriptionInfo?> GetAsync(TopicName topic, string name, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        if (await TryFindAsync(topic, name, cancellationToken).ConfigureAwait(false) is not { } subscription)
        {
            return null;
        }

        var info = await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false);
        if (info is not null)
        {
            subscription.EnsurePartitions(info.Partitions.Count);
        }

        return subscription.Info(info?.Partitions);
    }

    public async ValueTask<SubscriptionSettings?> GetSettingsAsync(TopicName topic, string name, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        return (await TryFindAsync(topic, name, cancellationToken).ConfigureAwait(false))?.Settings;
    }

    public async ValueTask<IReadOnlyList<string>> ListAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        return _subscriptions.Values
            .Where(s => s.Topic == topic)
            .Select(s => s.Name)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public ValueTask<bool> DeleteAsync(TopicName topic, string name, CancellationToken cancellationToken = default)
        => DeleteAsync(topic, name, ConsumerEndReason.SubscriptionDeleted, cancellationToken);

    public async ValueTask<int> DeleteForTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        foreach (var name in await ListAsync(topic, cancellationToken).ConfigureAwait(false))
        {
            deleted += await DeleteAsync(topic, name, ConsumerEndReason.TopicDeleted, cancellationToken).ConfigureAwait(false) ? 1 : 0;
        }

        return deleted;
    }

    private async ValueTask<bool> DeleteAsync(TopicName topic, string name, ConsumerEndReason reason, CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = StateTopics.SubscriptionKey(topic, name);
            if (!_subscriptions.TryGetValue(key, out var subscription))
            {
                return false;
            }

            // Subscription record first, and before anything changes in memory: when it cannot be written (a full disk)
            // the delete changes nothing. Once it is written the delete is done: the cursors are ignored on load.
            await _log.AppendAsync(StateTopics.Subscriptions, 0, [new RecordToAppend(StateTopics.Key(key), null)], cancellationToken).ConfigureAwait(false);
            _subscriptions.TryRemove(key, out _);
            var partitions = subscription.PartitionCount;
            subscription.MarkDeleted(reason);
            var tombstones = new List<RecordToAppend>(partitions);
            for (var p = 0; p < partitions; p++)
            {
                tombstones.Add(new RecordToAppend(StateTopics.Key(StateTopics.CursorKey(topic, name, p)), null));
            }

            if (tombstones.Count > 0)
            {
                try
                {
                    await _log.AppendAsync(StateTopics.Cursors, 0, tombstones, CancellationToken.None).ConfigureAwait(false);
                }
                catch (StorageFullException ex)
                {
                    // Compaction would have dropped them; now they stay until a later write of those keys.
                    Log.CursorTombstonesFailed(_logger, topic, name, ex.Message);
                }
            }

            Log.SubscriptionDeleted(_logger, topic, name);
            return true;
        }
        finally
        {
            _adminLock.Release();
        }
    }

    public async ValueTask<ISubscriptionConsumer> OpenConsumerAsync(TopicName topic, string name, string consumerId, CancellationToken cancellationToken = default)
    {
        TopicName.ThrowIfInvalidPart(name, "subscription");
        // char.IsControl's ranges, searched without an enumerator (this runs for every pull and stream).
        if (string.IsNullOrEmpty(consumerId) || consumerId.Length > 255 || consumerId.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || consumerId.AsSpan().ContainsAnyInRange('\u007f', '\u009f'))
        {
            throw new ArgumentException("consumer id must be 1..255 characters without control characters", nameof(consumerId));
        }

        await StartAsync(cancellationToken).ConfigureAwait(false);
        if (await TryFindAsync(topic, name, cancellationToken).ConfigureAwait(false) is not { } subscription)
        {
            await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                subscription = Lookup(topic, name) is { } created
                    ? created
                    : await CreateLockedAsync(topic, name, new SubscriptionSettings(), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _adminLock.Release();
            }
        }

        var partitions = await _log.GetPartitionCountAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        subscription.EnsurePartitions(partitions);
        var state = subscription.Attach(consumerId);
        var consumer = new SubscriptionConsumer(this, subscription, state, _time);
        try
        {
            await subscription.EnsureJoinedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return consumer;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Completes after the advanced cursor is durable in the cursor topic (acks arriving together share one append).
    /// An expired id (its lease deadline passed, or it was nacked or released) is NOT applied: that message will be
    /// or was delivered again and must be acked with the newer id. Unknown ids: malformed, never issued, already acked,
    /// issued before a seek or a restart, or of an earlier subscription of the same name.
    /// </remarks>
    public async ValueTask<AckResult> AckAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ackIds);
        var subscription = await FindAsync(topic, name, cancellationToken).ConfigureAwait(false);
        return await SettleTextsAsync(subscription, ackIds, ForwardedAcks.Kinds.Ack, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<AckResult> AckPositionsAsync(TopicName topic, string name, IReadOnlyList<MessagePosition> positions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var subscription = await FindAsync(topic, name, cancellationToken).ConfigureAwait(false);
        using var ids = new AckIdList(positions.Count);
        foreach (var position in positions)
        {
            if (position.Partition < 0 || position.Offset < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(positions), position, "partition and offset must not be negative");
            }

            ids.Add(AckId.Position(subscription.Generation, position.Partition, position.Offset));
        }

        return await SettleAsync(subscription, ids, ForwardedAcks.Kinds.Ack, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// A nacked message is delivered again after <paramref name="delay"/> with its attempt one higher; one that has
    /// already been delivered <see cref="SubscriptionSettings.MaxDeliveries"/> times goes to the dead-letter topic instead.
    /// Ids are classified as in <see cref="AckAsync"/>.
    /// </remarks>
    public async ValueTask<AckResult> NackAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ackIds);
        if (delay < TimeSpan.Zero || delay > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "nack delay must be between 0 and 1 day");
        }

        var subscription = await FindAsync(topic, name, cancellationToken).ConfigureAwait(false);
        return await SettleTextsAsync(subscription, ackIds, ForwardedAcks.Kinds.Nack, delay, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<AckResult> DeadLetterAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ackIds);
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var subscription = await FindAsync(topic, name, cancellationToken).ConfigureAwait(false);
        var ids = Parsed(ackIds, out var made);
        using (made)
        {
            var result = subscription.Settle(ids, Subscription.SettleKind.DeadLetter, TimeSpan.Zero, out _, out var deadLetters);
            await subscription.DeadLetterAsync(deadLetters, reason, rethrow: true).ConfigureAwait(false);
            return result;
        }
    }

    // Ids given as text, parsed: the list itself when it comes parsed (its maker gives it back), else a list made here,
    // also returned as made for the caller to dispose once settled.
    private static AckIdList Parsed(IReadOnlyList<string> ackIds, out AckIdList? made)
    {
        made = ackIds is AckIdList ? null : AckIdList.From(ackIds);
        return made ?? (AckIdList)ackIds;
    }

    public async ValueTask SeekAsync(TopicName topic, string name, StartPosition position, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(position);
        ValidatePosition(position);
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var subscription = Lookup(topic, name) ?? throw new SubscriptionNotFoundException(topic, name);
            var info = await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
            subscription.EnsurePartitions(info.Partitions.Count);
            var offsets = await ResolveAsync(info, position, forCreate: false, cancellationToken).ConfigureAwait(false);
            subscription.Seek(offsets);
            if (_fleet is null)
            {
                await _ctx.Writer.CommitAsync(subscription, PartitionSet.All(subscription.PartitionCount)).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await WriteRemoteSeekAsync(subscription, offsets, cancellationToken).ConfigureAwait(false);
            }

            Log.SubscriptionSeeked(_logger, topic, name, position.Kind);
        }
        finally
        {
            _adminLock.Release();
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (!_started)
        {
            return;
        }

        var tasks = _subscriptions.Values
            .Select(s => _ctx.Writer.CommitAsync(s, PartitionSet.All(s.PartitionCount)))
            .ToList();
        await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops read-ahead and timers, ends consumers, and flushes cursors.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var s in _subscriptions.Values)
        {
            s.Shutdown();
        }

        if (_fleet is not null)
        {
            // Leave every group now, so the other members take the partitions over without waiting for a timeout.
            await Task.WhenAll(_subscriptions.Values.Select(s => s.LeaveAsync())).ConfigureAwait(false);
            _fleet.Stop();
        }

        try
        {
            await FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.FinalFlushFailed(_logger, ex);
        }
    }

    private async ValueTask<Subscription> FindAsync(TopicName topic, string name, CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        return await TryFindAsync(topic, name, cancellationToken).ConfigureAwait(false) ?? throw new SubscriptionNotFoundException(topic, name);
    }

    // A consumer's own deliveries, acked by their leases; ids of leases that moved to another fleet member go the id way.
    internal ValueTask<int> AckDeliveriesAsync(Subscription subscription, ConsumerState consumer, IReadOnlyList<Delivery> deliveries, bool waitDurable, CancellationToken cancellationToken)
    {
        var acked = subscription.AckDeliveries(deliveries, consumer, out var dirty, out var elsewhere);
        if (!waitDurable && elsewhere is null)
        {
            // A stream's auto-ack, once per turn of every stream of a fan-out: nothing to wait for, no state machine.
            CommitAcked(subscription, dirty);
            return ValueTask.FromResult(acked);
        }

        return FinishAckAsync(subscription, acked, dirty, elsewhere, waitDurable, cancellationToken);
    }

    private async ValueTask<int> FinishAckAsync(Subscription subscription, int acked, PartitionSet dirty, List<string>? elsewhere, bool waitDurable, CancellationToken cancellationToken)
    {
        await CommitAckedAsync(subscription, dirty, waitDurable, cancellationToken).ConfigureAwait(false);
        if (elsewhere is not null)
        {
            var result = await SettleTextsAsync(subscription, elsewhere, ForwardedAcks.Kinds.Ack, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            acked += result.Succeeded;
        }

        return acked;
    }

    // The cursors acks advanced go out with the next cursor write; nobody waits for them.
    private void CommitAcked(Subscription subscription, PartitionSet dirty)
    {
        if (!dirty.IsEmpty)
        {
            _ctx.Writer.CommitLater(subscription, dirty);
        }
    }

    // The cursors acks advanced: durable before the ack is answered, or, when nobody waits, with the next cursor write.
    private async ValueTask CommitAckedAsync(Subscription subscription, PartitionSet dirty, bool waitDurable, CancellationToken cancellationToken)
    {
        if (dirty.IsEmpty)
        {
            return;
        }

        if (waitDurable)
        {
            await _ctx.Writer.CommitAsync(subscription, dirty).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            CommitAcked(subscription, dirty);
        }
    }

    // As SettleAsync, for ids given as text (Parsed).
    private async ValueTask<AckResult> SettleTextsAsync(Subscription subscription, IReadOnlyList<string> ackIds, ForwardedAcks.Kinds kind, TimeSpan delay, CancellationToken cancellationToken)
    {
        var ids = Parsed(ackIds, out var made);
        using (made)
        {
            return await SettleAsync(subscription, ids, kind, delay, cancellationToken).ConfigureAwait(false);
        }
    }

    // Ack or nack: ids of partitions another fleet member delivers are forwarded to it, the rest settled here.
    private async ValueTask<AckResult> SettleAsync(Subscription subscription, AckIdList ackIds, ForwardedAcks.Kinds kind, TimeSpan delay, CancellationToken cancellationToken)
    {
        var (local, forwarded) = await ForwardOthersAsync(subscription, ackIds, kind, delay, cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await SettleHereAsync(subscription, local, kind, delay, cancellationToken).ConfigureAwait(false);
            return forwarded == 0 ? result : result with { Succeeded = result.Succeeded + forwarded };
        }
        finally
        {
            if (!ReferenceEquals(local, ackIds))
            {
                local.Dispose();
            }
        }
    }

    // An ack completes once the advanced cursor is durable; a nack sends what reached max deliveries to the dead-letter topic.
    private async ValueTask<AckResult> SettleHereAsync(Subscription subscription, AckIdList ackIds, ForwardedAcks.Kinds kind, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (kind == ForwardedAcks.Kinds.Ack)
        {
            var acked = subscription.Settle(ackIds, Subscription.SettleKind.Ack, TimeSpan.Zero, out var dirty, out _);
            await CommitAckedAsync(subscription, dirty, waitDurable: true, cancellationToken).ConfigureAwait(false);
            return acked;
        }

        var nacked = subscription.Settle(ackIds, Subscription.SettleKind.Nack, delay, out _, out var deadLetters);
        if (deadLetters.Count > 0)
        {
            _ = subscription.DeadLetterAsync(deadLetters, "max-deliveries", rethrow: false);
        }

        return nacked;
    }

    // In a fleet, acks and nacks of partitions another member delivers go to it through the acks topic (answered once
    // that append is durable); the rest, and every id that is malformed or of another generation, are settled here.
    private async ValueTask<(AckIdList Local, int Forwarded)> ForwardOthersAsync(
        Subscription subscription, AckIdList ackIds, ForwardedAcks.Kinds kind, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (_fleet is null)
        {
            return (ackIds, 0);
        }

        // The common case is an ack to the member that delivered: the ids settle here as given, and the split into a
        // local list starts only at the first id of another member's partition.
        AckIdList? local = null;
        List<string>? remote = null;
        for (var i = 0; i < ackIds.Count; i++)
        {
            if (ackIds.TryGet(i, out var id) && id.Generation == subscription.Generation && !subscription.IsOwned(id.Partition))
            {
                if (remote is null)
                {
                    remote = [];
                    local = new AckIdList(ackIds.Count);
                    for (var j = 0; j < i; j++)
                    {
                        local.AddFrom(ackIds, j);
                    }
                }

                remote.Add(ackIds[i]);
            }
            else
            {
                local?.AddFrom(ackIds, i);
            }
        }

        if (remote is null)
        {
            return (ackIds, 0);
        }

        try
        {
            await _fleet.ForwardAsync(subscription.Topic, subscription.Name, kind, delay, remote, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            local!.Dispose();
            throw;
        }

        return (local!, remote.Count);
    }

    // Under _adminLock. Cursors of every partition first (a partition nobody delivers starts there), then the record
    // with the seek's token and offsets: the members that deliver a partition apply the seek when they see it.
    private async ValueTask WriteRemoteSeekAsync(Subscription subscription, IReadOnlyDictionary<int, long> offsets, CancellationToken cancellationToken)
    {
        var records = new List<RecordToAppend>(offsets.Count);
        foreach (var (partition, offset) in offsets)
        {
            records.Add(new RecordToAppend(StateTopics.Key(StateTopics.CursorKey(subscription.Topic, subscription.Name, partition)), new PartitionCursor(offset).Encode(subscription.Generation)));
        }

        await _log.AppendAsync(StateTopics.Cursors, 0, records, cancellationToken).ConfigureAwait(false);
        subscription.SeekToken = Random.Shared.NextInt64(1, long.MaxValue);
        var record = new RecordToAppend(
            StateTopics.Key(StateTopics.SubscriptionKey(subscription.Topic, subscription.Name)),
            StateTopics.EncodeSubscription(subscription.Settings, subscription.Generation, subscription.SeekToken, offsets));
        await _log.AppendAsync(StateTopics.Subscriptions, 0, [record], cancellationToken).ConfigureAwait(false);
    }

    // A subscription record written by any member (this one's own come back too, and change nothing).
    private async ValueTask ApplyRemoteSubscriptionAsync(StoredRecord record)
    {
        if (record.Key is not { } k)
        {
            return;
        }

        var key = System.Text.Encoding.UTF8.GetString(k.Span);
        var bar = key.IndexOf('|');
        if (bar <= 0 || !TryParseTopic(key[..bar], out var topic))
        {
            Log.StateRecordIgnored(_logger, StateTopics.Subscriptions, key);
            return;
        }

        var name = key[(bar + 1)..];
        await _adminLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _subscriptions.TryGetValue(key, out var existing);
            if (record.Value is not { } value)
            {
                if (existing is not null && _subscriptions.TryRemove(key, out _))
                {
                    existing.MarkDeleted();
                }

                return;
            }

            if (!StateTopics.TryDecodeSubscription(value.Span, out var settings, out var generation, out var seekToken, out var seekOffsets))
            {
                Log.StateRecordIgnored(_logger, StateTopics.Subscriptions, key);
                return;
            }

            if (existing is not null && existing.Generation == generation)
            {
                if (existing.Settings != settings with { Position = existing.Settings.Position })
                {
                    try
                    {
                        existing.UpdateSettings(settings);
                    }
                    catch (Exception ex) when (ex is InvalidSubscriptionSettingsException or SubscriptionFilterFixedException)
                    {
                        Log.RemoteUpdateRefused(_logger, topic, name, ex.Message);
                    }
                }

                if (seekToken != 0 && seekToken != existing.SeekToken && seekOffsets is not null)
                {
                    existing.SeekToken = seekToken;
                    existing.Seek(seekOffsets);
                    var owned = seekOffsets.Keys.Where(existing.IsOwned).ToList();
                    if (owned.Count > 0)
                    {
                        _ = _ctx.Writer.CommitAsync(existing, PartitionSet.Of(owned));
                    }
                }

                return;
            }

            // New here, or deleted and recreated elsewhere (a new generation).
            existing?.MarkDeleted();
            var cursors = new Dictionary<int, PartitionCursor>();
            var partitions = await _log.GetPartitionCountAsync(topic).ConfigureAwait(false) ?? 0;
            for (var p = 0; p < partitions; p++)
            {
                if (_fleet!.TryGetCursor(topic, name, p, generation) is { } cursor)
                {
                    cursors[p] = cursor;
                }
            }

            _subscriptions[key] = new Subscription(_ctx, topic, name, settings, generation, cursors) { SeekToken = seekToken };
        }
        finally
        {
            _adminLock.Release();
        }
    }

    private static bool TryParseTopic(string value, out TopicName topic)
    {
        try
        {
            topic = TopicName.Parse(value);
            return true;
        }
        catch (InvalidNameException)
        {
            topic = default!;
            return false;
        }
    }

    private ValueTask ApplyRemoteCursorAsync(string subscriptionKey, int partition, long generation, PartitionCursor? cursor)
    {
        if (cursor is not null && _subscriptions.TryGetValue(subscriptionKey, out var subscription) && subscription.Generation == generation)
        {
            subscription.ApplyRemoteCursor(partition, cursor);
        }

        return ValueTask.CompletedTask;
    }

    // Acks and nacks another member received: settled here for the partitions this member delivers; ids of other
    // partitions are unknown here and change nothing (their owner, reading the same record, settles them).
    private async ValueTask ApplyForwardedAcksAsync(ForwardedAcks acks)
    {
        if (!TryParseTopic(acks.Topic, out var topic) || acks.Name is null || Lookup(topic, acks.Name) is not { } subscription)
        {
            return;
        }

        using var mine = new AckIdList();
        foreach (var text in acks.AckIds)
        {
            if (AckId.TryParse(text, out var id) && subscription.IsOwned(id.Partition))
            {
                mine.Add(id);
            }
        }

        if (mine.Count == 0)
        {
            return;
        }

        try
        {
            await SettleHereAsync(subscription, mine, acks.Kind, TimeSpan.FromMilliseconds(Math.Clamp(acks.DelayMs, 0, (long)TimeSpan.FromDays(1).TotalMilliseconds)), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The acked state stays in memory and goes out with the next cursor write.
            Log.ForwardedAckFailed(_logger, topic, acks.Name, ex);
        }
    }

    // In a fleet, admin operations first apply what other members changed (never under _adminLock: applying takes it).
    private ValueTask CatchUpAsync(CancellationToken cancellationToken)
        => _fleet?.CatchUpSubscriptionsAsync(cancellationToken) ?? ValueTask.CompletedTask;

    // In a fleet a subscription missing here may just have been created elsewhere: read the state topic up to now first.
    private async ValueTask<Subscription?> TryFindAsync(TopicName topic, string name, CancellationToken cancellationToken)
    {
        var subscription = Lookup(topic, name);
        if (subscription is not null || _fleet is null)
        {
            return subscription;
        }

        await _fleet.CatchUpSubscriptionsAsync(cancellationToken).ConfigureAwait(false);
        return Lookup(topic, name);
    }

    private Subscription? Lookup(TopicName topic, string name)
    {
        var length = StateTopics.SubscriptionKeyLength(topic, name);
        char[]? rented = null;
        Span<char> buffer = length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(length));
        _subscriptionsBySpan.TryGetValue(StateTopics.WriteSubscriptionKey(topic, name, buffer), out var subscription);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        return subscription;
    }

    // Under _adminLock.
    private async ValueTask<Subscription> CreateLockedAsync(TopicName topic, string name, SubscriptionSettings settings, CancellationToken cancellationToken)
    {
        var info = await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        var offsets = await ResolveAsync(info, settings.Position, forCreate: true, cancellationToken).ConfigureAwait(false);
        var cursors = offsets.ToDictionary(kv => kv.Key, kv => new PartitionCursor(kv.Value));
        var generation = Random.Shared.NextInt64(1, long.MaxValue);
        var subscription = new Subscription(_ctx, topic, name, settings, generation, cursors);

        // Cursors before the subscription record: a crash in between leaves cursors that no record claims (ignored),
        // never a subscription whose start position was not pinned.
        var records = new List<RecordToAppend>(cursors.Count);
        foreach (var p in cursors.Keys)
        {
            if (subscription.TryEncodeCursor(p, out var key, out var value))
            {
                records.Add(new RecordToAppend(key, value));
            }
        }

        await _log.AppendAsync(StateTopics.Cursors, 0, records, cancellationToken).ConfigureAwait(false);
        await WriteSubscriptionRecordAsync(subscription, cancellationToken).ConfigureAwait(false);
        _subscriptions[StateTopics.SubscriptionKey(topic, name)] = subscription;
        Log.SubscriptionCreated(_logger, topic, name, settings.Type);
        if (settings.Filter is { } filter)
        {
            Log.SubscriptionFiltered(_logger, topic, name, filter.Text);
        }

        return subscription;
    }

    private async ValueTask WriteSubscriptionRecordAsync(Subscription subscription, CancellationToken cancellationToken)
    {
        var record = new RecordToAppend(
            StateTopics.Key(StateTopics.SubscriptionKey(subscription.Topic, subscription.Name)),
            StateTopics.EncodeSubscription(subscription.Settings, subscription.Generation, subscription.SeekToken));
        await _log.AppendAsync(StateTopics.Subscriptions, 0, [record], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The committed offset per partition for a position. An offset applies to its partition (or to every partition
    /// without one) and must lie within what it holds, its end included (<see cref="OffsetOutOfRangeException"/>);
    /// other partitions start at the latest offset on create and keep their cursor on seek.
    /// </summary>
    private async ValueTask<Dictionary<int, long>> ResolveAsync(TopicInfo info, StartPosition position, bool forCreate, CancellationToken cancellationToken)
    {
        if (position.Kind == StartPositionKind.Offset && position.Partition is { } only && only >= info.Partitions.Count)
        {
            throw new PartitionNotFoundException(info.Name, only, info.Partitions.Count);
        }

        var result = new Dictionary<int, long>();
        foreach (var p in info.Partitions)
        {
            switch (position.Kind)
            {
                case StartPositionKind.Earliest:
                    result[p.Partition] = p.StartOffset;
                    break;
                case StartPositionKind.Latest:
                    result[p.Partition] = p.EndOffset;
                    break;
                case StartPositionKind.Offset when position.Partition is null || position.Partition == p.Partition:
                    var offset = position.Offset!.Value;
                    if (offset < p.StartOffset || offset > p.EndOffset)
                    {
                        // Refused, not clamped: a cursor silently moved elsewhere than asked would skip or repeat messages.
                        throw new OffsetOutOfRangeException(p.Partition, offset, p.StartOffset, p.EndOffset);
                    }

                    result[p.Partition] = offset;
                    break;
                case StartPositionKind.Offset when forCreate:
                    result[p.Partition] = p.EndOffset;
                    break;
                case StartPositionKind.Time:
                    result[p.Partition] = await _log.FindOffsetAsync(info.Name, p.Partition, position.Time!.Value, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }

        return result;
    }

    private static void ValidateSettings(SubscriptionSettings settings)
    {
        if (settings.Validate() is { } reason)
        {
            throw new InvalidSubscriptionSettingsException(reason);
        }

        ValidatePosition(settings.Position);
    }

    private static void ValidateDeadLetterTopic(TopicName topic, SubscriptionSettings settings)
    {
        if (settings.DeadLetterTopic is { IsInternal: true } named)
        {
            throw new InvalidSubscriptionSettingsException($"dead-letter topic '{named}' is internal; choose a topic outside tenants starting with '{TopicName.InternalTenantPrefix}'");
        }

        if (settings.MaxDeliveries > 0 && settings.DeadLetterTopic is null)
        {
            try
            {
                _ = new TopicName(topic.Tenant, topic.Namespace, topic.Name + "-dlq");
            }
            catch (InvalidNameException ex)
            {
                throw new InvalidSubscriptionSettingsException($"the default dead-letter topic name is invalid ({ex.Message}); name one with deadLetterTopic");
            }
        }
    }

    private static void ValidatePosition(StartPosition position)
    {
        var reason = position.Kind switch
        {
            StartPositionKind.Offset when position.Offset is not { } o || o < 0 => "an offset position needs a non-negative offset",
            StartPositionKind.Offset when position.Partition is < 0 => "partition must not be negative",
            StartPositionKind.Time when position.Time is null => "a time position needs a time",
            StartPositionKind.Earliest or StartPositionKind.Latest or StartPositionKind.Offset or StartPositionKind.Time => null,
            _ => $"unknown start position kind {(int)position.Kind}",
        };
        if (reason is not null)
        {
            throw new InvalidSubscriptionSettingsException(reason);
        }
    }

    private async ValueTask EnsureStateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken)
    {
        if (await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        try
        {
            await _log.CreateTopicAsync(topic, settings, cancellationToken).ConfigureAwait(false);
            Log.StateTopicCreated(_logger, topic);
        }
        catch (TopicAlreadyExistsException)
        {
            // Another gateway of the fleet created it first.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.StateLoaded, LogLevel.Information, "Loaded {Subscriptions} subscriptions and {Cursors} cursor records")]
        public static partial void StateLoaded(ILogger logger, int subscriptions, int cursors);

        [LoggerMessage(CoreEventIds.StateTopicCreated, LogLevel.Information, "Created state topic '{Topic}'")]
        public static partial void StateTopicCreated(ILogger logger, TopicName topic);

        [LoggerMessage(CoreEventIds.StateRecordIgnored, LogLevel.Warning, "Ignored malformed record '{Key}' in state topic '{Topic}'")]
        public static partial void StateRecordIgnored(ILogger logger, TopicName topic, string key);

        [LoggerMessage(CoreEventIds.SubscriptionCreated, LogLevel.Information, "Created {Type} subscription '{Name}' on '{Topic}'")]
        public static partial void SubscriptionCreated(ILogger logger, TopicName topic, string name, SubscriptionType type);

        [LoggerMessage(CoreEventIds.SubscriptionFiltered, LogLevel.Information, "Subscription '{Name}' on '{Topic}' delivers only messages matching the filter {Filter}")]
        public static partial void SubscriptionFiltered(ILogger logger, TopicName topic, string name, string filter);

        [LoggerMessage(CoreEventIds.SubscriptionDeleted, LogLevel.Information, "Deleted subscription '{Name}' on '{Topic}'")]
        public static partial void SubscriptionDeleted(ILogger logger, TopicName topic, string name);

        [LoggerMessage(CoreEventIds.CursorTombstonesFailed, LogLevel.Warning, "Deleted subscription '{Name}' on '{Topic}', but its cursor records stay in the state topic until space is freed ({Reason}); they are ignored")]
        public static partial void CursorTombstonesFailed(ILogger logger, TopicName topic, string name, string reason);

        [LoggerMessage(CoreEventIds.SubscriptionSeeked, LogLevel.Information, "Subscription '{Name}' on '{Topic}' moved to {Kind}")]
        public static partial void SubscriptionSeeked(ILogger logger, TopicName topic, string name, StartPositionKind kind);

        [LoggerMessage(CoreEventIds.RemoteUpdateRefused, LogLevel.Warning, "Subscription '{Name}' on '{Topic}' was changed by another instance in a way this one refuses: {Reason}")]
        public static partial void RemoteUpdateRefused(ILogger logger, TopicName topic, string name, string reason);

        [LoggerMessage(CoreEventIds.ForwardedAckFailed, LogLevel.Warning, "Writing the cursor after acks forwarded by another instance failed for subscription '{Name}' on '{Topic}'; it is retried with the next write")]
        public static partial void ForwardedAckFailed(ILogger logger, TopicName topic, string name, Exception exception);

        [LoggerMessage(CoreEventIds.FinalFlushFailed, LogLevel.Error, "Writing cursors at shutdown failed; unacked state since the last write will be redelivered")]
        public static partial void FinalFlushFailed(ILogger logger, Exception exception);
    }
}
