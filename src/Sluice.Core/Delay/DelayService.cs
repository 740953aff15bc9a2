using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Delay;

/// <summary>
/// <see cref="IDelayService"/> over the backend: holding topics, the state topic, and a <see cref="HoldingTopic"/> per
/// source topic that has delayed messages.
/// <code>
///   produce ──► first time for a topic: register "t|{topic}" (state topic), create the holding topic
///           ──► append to the holding partition (the message's own partition) ──► id d:{partition}:{offset}:{generation}
///   cancel  ──► append a cancel record after it ──► read on until the owner's decision record ──► cancelled / not
///   list    ──► the owned schedulers' indexes, merged in (due, partition, offset) order
///   delete  ──► "t|{topic}" marked deleted (every instance stops), watermarks tombstoned, holding topic deleted
/// </code>
/// In a fleet every instance follows the state topic: a topic registered through one instance is scheduled by all.
/// </summary>
internal sealed partial class DelayService : IDelayService, IAsyncDisposable
{
    /// <summary>How long a cancel waits for the owner's decision before answering "unavailable".</summary>
    public static readonly TimeSpan CancelTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a listing waits for this instance to learn its partitions (fleet), and for its schedulers to read what was held before it.</summary>
    private static readonly TimeSpan ListJoinWait = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<TopicName, HoldingTopic> _topics = new();
    private readonly Dictionary<TopicName, (long Generation, bool Deleted)> _registry = [];
    private readonly ConcurrentDictionary<string, DelayWatermark> _watermarks = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _admin = new(1, 1);
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private StateFollower? _follower;
    private volatile bool _started;
    private bool _stopped;

    public DelayService(IMessageLog log, TimeProvider time, IPartitionCoordinator coordinator, ILoggerFactory loggerFactory)
    {
        MessageLog = log;
        Time = time;
        Coordinator = coordinator;
        Logger = loggerFactory.CreateLogger("Sluice.Core.Delay");
    }

    public IMessageLog MessageLog { get; }

    public TimeProvider Time { get; }

    public IPartitionCoordinator Coordinator { get; }

    public ILogger Logger { get; }

    /// <summary>Loads the registry and starts scheduling (idempotent; every other member calls it first).</summary>
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

            ObjectDisposedException.ThrowIf(_stopped, this);
            await EnsureStateTopicAsync(cancellationToken).ConfigureAwait(false);
            var (values, next) = await StateTopics.LoadWithPositionAsync(MessageLog, DelayTopics.State, cancellationToken).ConfigureAwait(false);
            foreach (var (key, value) in values)
            {
                if (value is { } v)
                {
                    Remember(key, v);
                }
            }

            foreach (var (source, (generation, deleted)) in _registry)
            {
                if (!deleted)
                {
                    var holding = new HoldingTopic(this, source, generation);
                    _topics[source] = holding;
                    await ActivateAsync(holding, cancellationToken).ConfigureAwait(false);
                }
            }

            if (Coordinator.IsShared)
            {
                _follower = new StateFollower(MessageLog, DelayTopics.State, next, ApplyStateRecordAsync, Time, Logger);
                _follower.Start(_stopping.Token);
            }

            Log.Loaded(Logger, _topics.Count);
            _started = true;
            _ = Task.Run(DeleteOrphansAsync, CancellationToken.None);
        }
        finally
        {
            _startLock.Release();
        }
    }

    /// <summary>Stops every scheduler, writing its watermark (in a fleet: leaving the groups hands the partitions over).</summary>
    public async ValueTask StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_topics.Values.Select(t => t.CloseAsync(persist: true))).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => StopAsync();

    public async ValueTask<DelayedAppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<DelayedRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return new DelayedAppendResult(partition, []);
        }

        var now = Time.GetUtcNow();
        var held = new RecordToAppend[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            if (DelayLimits.Check(records[i].DeliverAt, now) is { } reason)
            {
                throw new InvalidDelayException(records.Count == 1 ? reason : $"record {i}: {reason}");
            }

            held[i] = HoldingRecords.Message(records[i].Record, DelayLimits.ToDueMs(records[i].DeliverAt));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        await StartAsync(cancellationToken).ConfigureAwait(false);
        var holding = await EnsureHoldingAsync(topic, partition + 1, cancellationToken).ConfigureAwait(false);
        AppendResult result;
        try
        {
            result = await MessageLog.AppendAsync(holding.Holding, partition, held, cancellationToken).ConfigureAwait(false);
        }
        catch (TopicNotFoundException ex) when (ex.Topic == holding.Holding)
        {
            // The topic was deleted meanwhile (with its holding topic): say so about the topic, not the internal one.
            throw new TopicNotFoundException(topic);
        }

        var ids = new string[records.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = new DelayId(partition, result.BaseOffset + i, holding.Generation).ToString();
        }

        DelayMetrics.OnHeld(topic, ids.Length);
        return new DelayedAppendResult(partition, ids);
    }

    public async ValueTask<CancelOutcome> CancelAsync(TopicName topic, string id, CancellationToken cancellationToken = default)
    {
        if (!DelayId.TryParse(id, out var parsed))
        {
            throw new InvalidDelayException("a delayed message id has the form d:{partition}:{offset}:{generation}, as the produce answered it");
        }

        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpStateAsync(cancellationToken).ConfigureAwait(false);
        if (!_topics.TryGetValue(topic, out var holding) || holding.Generation != parsed.Generation)
        {
            return CancelOutcome.NotCancellable;
        }

        var h = holding.Holding;
        var partitions = await MessageLog.GetPartitionCountAsync(h, cancellationToken).ConfigureAwait(false) ?? 0;
        if (parsed.Partition >= partitions)
        {
            return CancelOutcome.NotCancellable;
        }

        // Owned here and already fired or cancelled: refused without writing a cancel the owner would refuse anyway.
        if (holding.Owned().FirstOrDefault(s => s.Partition == parsed.Partition) is { } owner && owner.IsSettled(parsed.Offset))
        {
            return CancelOutcome.NotCancellable;
        }

        // A cancel record is appended only for an id that names a held message: what it decides is then about that one.
        try
        {
            var target = await MessageLog.ReadAsync(h, parsed.Partition, parsed.Offset, 1, 1, cancellationToken).ConfigureAwait(false);
            if (target.Records.Count == 0 || target.Records[0].Offset != parsed.Offset
                || HoldingRecords.Read(target.Records[0], out _, out _) != HoldingRecords.Kind.Message)
            {
                return CancelOutcome.NotCancellable;
            }
        }
        catch (OffsetOutOfRangeException)
        {
            return CancelOutcome.NotCancellable; // never held, or fired long ago and trimmed
        }
        catch (CorruptRecordsException)
        {
            return CancelOutcome.NotCancellable; // damaged on disk: its scheduler cannot read it either, so it is not pending
        }

        var marker = await MessageLog.AppendAsync(h, parsed.Partition, [HoldingRecords.Cancel(parsed.Offset)], cancellationToken).ConfigureAwait(false);
        return await WaitForDecisionAsync(h, parsed.Partition, marker.BaseOffset, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<DelayedPage> ListAsync(TopicName topic, string? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var cursor = ParseCursor(after);
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpStateAsync(cancellationToken).ConfigureAwait(false);
        var sourcePartitions = await MessageLog.GetPartitionCountAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        if (!_topics.TryGetValue(topic, out var holding))
        {
            return new DelayedPage(0, [], null, [.. Enumerable.Range(0, sourcePartitions)]);
        }

        // In a fleet, which partitions are this instance's is known after its first assignment (bounded: a cluster that
        // does not answer gets a listing of what is owned so far).
        await Task.WhenAny(holding.Joined, Task.Delay(ListJoinWait, Time, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        var owned = holding.Owned();

        // After a start or a hand-over a partition's index is complete only once rebuilt from its log.
        await Task.WhenAll(owned.Select(s => s.Rebuilt)).WaitAsync(cancellationToken).ConfigureAwait(false);
        await WaitForHeldBeforeAsync(holding.Holding, owned, cancellationToken).ConfigureAwait(false);
        var merged = new List<(PendingEntry Entry, int Partition)>();
        long count = 0;
        var scratch = new List<PendingEntry>();
        foreach (var scheduler in owned)
        {
            count += scheduler.Pending;
            var p = scheduler.Partition;

            // Entries after the cursor (due, partition, offset): a lower partition needs a later due time, a higher one the same.
            var from = cursor is not { } c ? new PendingEntry(long.MinValue, long.MinValue)
                : p < c.Partition ? new PendingEntry(c.Due, long.MaxValue)
                : p == c.Partition ? new PendingEntry(c.Due, c.Offset)
                : new PendingEntry(c.Due - 1, long.MaxValue);
            scratch.Clear();
            scheduler.Collect(from, limit + 1, scratch);
            merged.AddRange(scratch.Select(e => (e, p)));
        }

        merged.Sort((x, y) =>
        {
            var c = x.Entry.Due.CompareTo(y.Entry.Due);
            c = c != 0 ? c : x.Partition.CompareTo(y.Partition);
            return c != 0 ? c : x.Entry.Offset.CompareTo(y.Entry.Offset);
        });
        var page = merged.Take(limit)
            .Select(x => new DelayedEntry(new DelayId(x.Partition, x.Entry.Offset, holding.Generation).ToString(), x.Partition, DateTimeOffset.FromUnixTimeMilliseconds(x.Entry.Due)))
            .ToList();
        var last = page.Count > 0 ? merged[page.Count - 1] : default;
        var next = merged.Count > limit
            ? string.Create(CultureInfo.InvariantCulture, $"{last.Entry.Due}.{last.Partition}.{last.Entry.Offset}")
            : null;
        var partitions = Coordinator.IsShared ? owned.Select(s => s.Partition).Order().ToList() : [.. Enumerable.Range(0, sourcePartitions)];
        return new DelayedPage(count, page, next, partitions) { IndexBytes = owned.Sum(s => s.IndexBytes) };
    }

    public async ValueTask DeleteTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await CatchUpStateAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long generation;
            lock (_registry)
            {
                if (!_registry.TryGetValue(topic, out var r) || r.Deleted)
                {
                    return;
                }

                generation = r.Generation;
            }

            // First the registration (every instance stops scheduling it), then the watermarks, then the data.
            await AppendStateAsync(DelayTopics.RegistryKey(topic), DelayTopics.EncodeRegistration(generation, deleted: true), cancellationToken).ConfigureAwait(false);
            lock (_registry)
            {
                _registry[topic] = (generation, true);
            }

            var holdingName = DelayTopics.HoldingName(topic, generation);
            var partitions = 0;
            if (_topics.TryRemove(topic, out var holding))
            {
                await holding.CloseAsync(persist: false).ConfigureAwait(false);
                partitions = holding.PartitionCount;
            }

            partitions = Math.Max(partitions, await MessageLog.GetPartitionCountAsync(holdingName, cancellationToken).ConfigureAwait(false) ?? 0);
            if (partitions > 0)
            {
                var tombstones = new List<RecordToAppend>(partitions);
                for (var p = 0; p < partitions; p++)
                {
                    tombstones.Add(new RecordToAppend(DelayTopics.Key(DelayTopics.WatermarkKey(holdingName, p)), null));
                    _watermarks.TryRemove(DelayTopics.WatermarkKey(holdingName, p), out _);
                }

                await MessageLog.AppendAsync(DelayTopics.State, 0, tombstones, cancellationToken).ConfigureAwait(false);
            }

            await MessageLog.DeleteTopicAsync(holdingName, cancellationToken).ConfigureAwait(false);
            Log.HoldingDeleted(Logger, holdingName, topic);
        }
        finally
        {
            _admin.Release();
        }
    }

    /// <summary>The durable watermark of a holding partition, as last loaded or followed.</summary>
    public DelayWatermark GetWatermark(TopicName holding, int partition)
        => _watermarks.TryGetValue(DelayTopics.WatermarkKey(holding, partition), out var s) ? s : DelayWatermark.Empty;

    /// <summary>Writes a holding partition's watermark (durable on return).</summary>
    public async ValueTask WriteWatermarkAsync(TopicName holding, int partition, DelayWatermark state)
    {
        var key = DelayTopics.WatermarkKey(holding, partition);
        await AppendStateAsync(key, DelayTopics.EncodeWatermark(state), CancellationToken.None).ConfigureAwait(false);
        _watermarks[key] = state;
    }

    /// <summary>In a fleet, applies everything written to the state topic so far (registrations, watermarks).</summary>
    public ValueTask CatchUpStateAsync(CancellationToken cancellationToken)
        => _follower?.CatchUpAsync(cancellationToken) ?? ValueTask.CompletedTask;

    // Read your writes: a listing waits until the owned schedulers have read their partitions as far as they reach now,
    // so what was held before it was asked is in it (bounded: a backend that lags gets what is read so far).
    private async ValueTask WaitForHeldBeforeAsync(TopicName holding, IReadOnlyList<PartitionScheduler> owned, CancellationToken cancellationToken)
    {
        var info = await MessageLog.DescribeTopicAsync(holding, cancellationToken).ConfigureAwait(false);
        if (info is null)
        {
            return;
        }

        using var bound = new CancellationTokenSource(ListJoinWait, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bound.Token);
        try
        {
            await Task.WhenAll(owned.Where(s => s.Partition < info.Partitions.Count)
                .Select(s => s.WaitReadToAsync(info.Partitions[s.Partition].EndOffset, linked.Token))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
        }
    }

    // The holding topic of a source, registered and created on first use, grown with the source's partitions.
    private async ValueTask<HoldingTopic> EnsureHoldingAsync(TopicName source, int minPartitions, CancellationToken cancellationToken)
    {
        if (_topics.TryGetValue(source, out var known) && known.PartitionCount >= minPartitions)
        {
            return known;
        }

        // Never under _admin: applying followed records takes it.
        await CatchUpStateAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var sourcePartitions = await MessageLog.GetPartitionCountAsync(source, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(source);
            if (minPartitions > sourcePartitions)
            {
                throw new PartitionNotFoundException(source, minPartitions - 1, sourcePartitions);
            }

            if (!_topics.TryGetValue(source, out var holding))
            {
                long generation;
                lock (_registry)
                {
                    // A new generation after a deletion; instances that register at once compute the same one.
                    generation = _registry.TryGetValue(source, out var r) ? (r.Deleted ? r.Generation + 1 : r.Generation) : 1;
                }

                // Registered before the topic is made: a crash in between leaves a registration without a topic (made
                // on the next produce), never a holding topic that nobody schedules.
                await AppendStateAsync(DelayTopics.RegistryKey(source), DelayTopics.EncodeRegistration(generation, deleted: false), cancellationToken).ConfigureAwait(false);
                lock (_registry)
                {
                    _registry[source] = (generation, false);
                }

                holding = new HoldingTopic(this, source, generation);
            }

            holding.PartitionCount = await EnsureHoldingTopicAsync(holding.Holding, sourcePartitions, cancellationToken).ConfigureAwait(false);
            _topics[source] = holding;
            if (!_stopped)
            {
                // Once stopped (shutting down), what is produced stays held, and is scheduled after the restart.
                holding.Activate();
            }

            return holding;
        }
        finally
        {
            _admin.Release();
        }
    }

    // Creates the holding topic or grows it to the source's partitions; returns its partition count.
    private async ValueTask<int> EnsureHoldingTopicAsync(TopicName holding, int partitions, CancellationToken cancellationToken)
    {
        var existing = await MessageLog.GetPartitionCountAsync(holding, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            try
            {
                var created = await MessageLog.CreateTopicAsync(holding, DelayTopics.HoldingSettings(partitions), cancellationToken).ConfigureAwait(false);
                Log.HoldingCreated(Logger, holding, partitions);
                return created.Partitions.Count;
            }
            catch (TopicAlreadyExistsException)
            {
                existing = await MessageLog.GetPartitionCountAsync(holding, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(holding);
            }
        }

        if (existing >= partitions)
        {
            return existing.Value;
        }

        var grown = await MessageLog.UpdateTopicAsync(holding, DelayTopics.HoldingSettings(partitions), cancellationToken).ConfigureAwait(false);
        return grown.Partitions.Count;
    }

    private async ValueTask ActivateAsync(HoldingTopic holding, CancellationToken cancellationToken)
    {
        holding.PartitionCount = await MessageLog.GetPartitionCountAsync(holding.Holding, cancellationToken).ConfigureAwait(false) ?? 0;
        holding.Activate();
    }

    // Reads the holding partition after the cancel record until the owner's decision on it.
    private async ValueTask<CancelOutcome> WaitForDecisionAsync(TopicName holding, int partition, long marker, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(CancelTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var offset = marker + 1;
        try
        {
            while (true)
            {
                ReadResult read;
                try
                {
                    read = await MessageLog.ReadAsync(holding, partition, offset, 1024, 1024 * 1024, linked.Token).ConfigureAwait(false);
                }
                catch (OffsetOutOfRangeException ex) when (offset < ex.StartOffset)
                {
                    offset = ex.StartOffset;
                    continue;
                }
                catch (CorruptRecordsException ex) when (offset < ex.ToOffset)
                {
                    offset = ex.ToOffset; // a decision inside the damage is lost: the timeout answers, and asking again decides anew
                    continue;
                }

                foreach (var r in read.Records)
                {
                    if (HoldingRecords.Read(r, out var cancelOffset, out var cancelled) == HoldingRecords.Kind.Decision && cancelOffset == marker)
                    {
                        return cancelled == 1 ? CancelOutcome.Cancelled : CancelOutcome.NotCancellable;
                    }
                }

                offset = read.NextOffset;
                if (offset >= read.EndOffset)
                {
                    await MessageLog.WaitForDataAsync(holding, partition, offset, linked.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new DelayUnavailableException(
                $"the instance that schedules partition {partition} did not decide within {CancelTimeout.TotalSeconds:0} s (it may be starting or handing the partition over); the cancel stays requested and is decided before that partition fires anything more: the message is cancelled unless it was already delivered");
        }
    }

    // A record of the state topic, written by any instance (this one's own come back too, and change nothing).
    private async ValueTask ApplyStateRecordAsync(StoredRecord record)
    {
        if (record.Key is not { } k)
        {
            return;
        }

        var key = Encoding.UTF8.GetString(k.Span);
        if (key.StartsWith("p|", StringComparison.Ordinal))
        {
            if (record.Value is { } v)
            {
                Remember(key, v);
            }
            else
            {
                _watermarks.TryRemove(key, out _);
            }

            return;
        }

        if (record.Value is not { } value || !DelayTopics.TryDecodeRegistration(key, value.Span, out var source, out var generation, out var deleted))
        {
            Log.StateIgnored(Logger, key);
            return;
        }

        await _admin.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_registry)
            {
                _registry[source] = (generation, deleted);
            }

            _topics.TryGetValue(source, out var current);
            if (current is not null && (deleted || current.Generation < generation))
            {
                _topics.TryRemove(source, out _);
                await current.CloseAsync(persist: !deleted).ConfigureAwait(false);
                current = null;
            }

            if (!deleted && current is null && !_stopped)
            {
                var holding = new HoldingTopic(this, source, generation);
                _topics[source] = holding;
                holding.Activate();
            }
        }
        finally
        {
            _admin.Release();
        }
    }

    // A loaded or followed state record: a registration or a watermark.
    private void Remember(string key, ReadOnlyMemory<byte> value)
    {
        if (key.StartsWith("p|", StringComparison.Ordinal))
        {
            if (DelayTopics.TryDecodeWatermark(value.Span, out var state))
            {
                _watermarks[key] = state;
            }
            else
            {
                Log.StateIgnored(Logger, key);
            }

            return;
        }

        if (DelayTopics.TryDecodeRegistration(key, value.Span, out var source, out var generation, out var deleted))
        {
            lock (_registry)
            {
                _registry[source] = (generation, deleted);
            }
        }
        else
        {
            Log.StateIgnored(Logger, key);
        }
    }

    // Holding topics that no live registration names (a crash between deleting a registration and its topic).
    private async Task DeleteOrphansAsync()
    {
        try
        {
            var all = await MessageLog.ListTopicsAsync(_stopping.Token).ConfigureAwait(false);
            await CatchUpStateAsync(_stopping.Token).ConfigureAwait(false);
            HashSet<TopicName> live;
            lock (_registry)
            {
                live = [.. _registry.Where(r => !r.Value.Deleted).Select(r => DelayTopics.HoldingName(r.Key, r.Value.Generation))];
            }

            foreach (var topic in all)
            {
                if (DelayTopics.IsHolding(topic) && !live.Contains(topic))
                {
                    await MessageLog.DeleteTopicAsync(topic, _stopping.Token).ConfigureAwait(false);
                    Log.OrphanDeleted(Logger, topic);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // The mock cluster cannot delete topics, for one: leftovers only take space.
            Log.OrphanCleanupFailed(Logger, ex);
        }
    }

    private async ValueTask AppendStateAsync(string key, byte[]? value, CancellationToken cancellationToken)
        => await MessageLog.AppendAsync(DelayTopics.State, 0, [new RecordToAppend(DelayTopics.Key(key), value)], cancellationToken).ConfigureAwait(false);

    private async ValueTask EnsureStateTopicAsync(CancellationToken cancellationToken)
    {
        if (await MessageLog.GetPartitionCountAsync(DelayTopics.State, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        try
        {
            await MessageLog.CreateTopicAsync(DelayTopics.State, DelayTopics.StateSettings, cancellationToken).ConfigureAwait(false);
        }
        catch (TopicAlreadyExistsException)
        {
            // Another instance of the fleet made it first.
        }
    }

    private static (long Due, int Partition, long Offset)? ParseCursor(string? after)
    {
        if (string.IsNullOrEmpty(after))
        {
            return null;
        }

        var parts = after.Split('.');
        if (parts.Length == 3
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var due)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return (due, partition, offset);
        }

        throw new InvalidDelayException("after must be the 'next' value of the previous page");
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.DelayLoaded, LogLevel.Information, "Delayed messages: {Topics} topics with a holding topic")]
        public static partial void Loaded(ILogger logger, int topics);

        [LoggerMessage(CoreEventIds.DelayHoldingCreated, LogLevel.Information, "Created holding topic '{Holding}' with {Partitions} partitions")]
        public static partial void HoldingCreated(ILogger logger, TopicName holding, int partitions);

        [LoggerMessage(CoreEventIds.DelayHoldingDeleted, LogLevel.Information, "Deleted holding topic '{Holding}' of '{Topic}' and its pending delayed messages")]
        public static partial void HoldingDeleted(ILogger logger, TopicName holding, TopicName topic);

        [LoggerMessage(CoreEventIds.DelayStateIgnored, LogLevel.Warning, "Ignored malformed record '{Key}' of the delayed-messages state topic")]
        public static partial void StateIgnored(ILogger logger, string key);

        [LoggerMessage(CoreEventIds.DelayOrphanDeleted, LogLevel.Information, "Deleted holding topic '{Holding}': no topic uses it any more")]
        public static partial void OrphanDeleted(ILogger logger, TopicName holding);

        [LoggerMessage(CoreEventIds.DelayOrphanCleanupFailed, LogLevel.Warning, "Looking for unused holding topics failed")]
        public static partial void OrphanCleanupFailed(ILogger logger, Exception exception);
    }
}
