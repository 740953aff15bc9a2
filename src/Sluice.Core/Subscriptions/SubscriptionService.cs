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
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private volatile bool _started;
    private bool _disposed;

    public SubscriptionService(IMessageLog log, TimeProvider time, IOptions<DeliveryOptions> options, ILoggerFactory loggerFactory)
    {
        var o = options.Value;
        if (o.Validate() is { } reason)
        {
            throw new OptionsValidationException(nameof(DeliveryOptions), typeof(DeliveryOptions), [reason]);
        }

        _log = log;
        _time = time;
        _logger = loggerFactory.CreateLogger("Sluice.Core.Subscriptions");
        _ctx = new EngineContext(log, time, o, _logger, new CursorWriter(log, o, _logger));
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
            await EnsureStateTopicAsync(StateTopics.Subscriptions, cancellationToken).ConfigureAwait(false);
            await EnsureStateTopicAsync(StateTopics.Cursors, cancellationToken).ConfigureAwait(false);
            var subscriptions = await StateTopics.LoadAsync(_log, StateTopics.Subscriptions, cancellationToken).ConfigureAwait(false);
            var cursors = await StateTopics.LoadAsync(_log, StateTopics.Cursors, cancellationToken).ConfigureAwait(false);

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
            }

            foreach (var (key, value) in subscriptions)
            {
                if (value is null)
                {
                    continue;
                }

                var bar = key.IndexOf('|');
                if (bar <= 0 || !StateTopics.TryDecodeSubscription(value.Value.Span, out var settings, out var generation))
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

                _subscriptions[key] = new Subscription(_ctx, topic, key[(bar + 1)..], settings, generation, partitionCursors);
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
        Subscription subscription;
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_subscriptions.TryGetValue(StateTopics.SubscriptionKey(topic, name), out var existing))
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
        if (!_subscriptions.TryGetValue(StateTopics.SubscriptionKey(topic, name), out var subscription))
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
        return _subscriptions.TryGetValue(StateTopics.SubscriptionKey(topic, name), out var subscription) ? subscription.Settings : null;
    }

    public async ValueTask<IReadOnlyList<string>> ListAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        return _subscriptions.Values
            .Where(s => s.Topic == topic)
            .Select(s => s.Name)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public async ValueTask<bool> DeleteAsync(TopicName topic, string name, CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_subscriptions.TryRemove(StateTopics.SubscriptionKey(topic, name), out var subscription))
            {
                return false;
            }

            var partitions = subscription.PartitionCount;
            subscription.MarkDeleted();
            var tombstones = new List<RecordToAppend>(partitions);
            for (var p = 0; p < partitions; p++)
            {
                tombstones.Add(new RecordToAppend(StateTopics.Key(StateTopics.CursorKey(topic, name, p)), null));
            }

            // Subscription record first: once it is gone the cursors are ignored on load, tombstoned or not.
            await _log.AppendAsync(StateTopics.Subscriptions, 0, [new RecordToAppend(StateTopics.Key(StateTopics.SubscriptionKey(topic, name)), null)], cancellationToken).ConfigureAwait(false);
            if (tombstones.Count > 0)
            {
                await _log.AppendAsync(StateTopics.Cursors, 0, tombstones, cancellationToken).ConfigureAwait(false);
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
        if (string.IsNullOrEmpty(consumerId) || consumerId.Length > 255 || consumerId.Any(char.IsControl))
        {
            throw new ArgumentException("consumer id must be 1..255 characters without control characters", nameof(consumerId));
        }

        await StartAsync(cancellationToken).ConfigureAwait(false);
        var key = StateTopics.SubscriptionKey(topic, name);
        if (!_subscriptions.TryGetValue(key, out var subscription))
        {
            await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                subscription = _subscriptions.TryGetValue(key, out var created)
                    ? created
                    : await CreateLockedAsync(topic, name, new SubscriptionSettings(), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _adminLock.Release();
            }
        }

        var info = await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        subscription.EnsurePartitions(info.Partitions.Count);
        var state = subscription.Attach(consumerId);
        return new SubscriptionConsumer(subscription, state, _time);
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
        var result = subscription.Settle(ackIds, Subscription.SettleKind.Ack, TimeSpan.Zero, out var dirty, out _);
        if (dirty.Count > 0)
        {
            await _ctx.Writer.CommitAsync(subscription, dirty).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return result;
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
        var result = subscription.Settle(ackIds, Subscription.SettleKind.Nack, delay, out _, out var deadLetters);
        if (deadLetters.Count > 0)
        {
            _ = subscription.DeadLetterAsync(deadLetters, "max-deliveries", rethrow: false);
        }

        return result;
    }

    public async ValueTask<AckResult> DeadLetterAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ackIds);
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var subscription = await FindAsync(topic, name, cancellationToken).ConfigureAwait(false);
        var result = subscription.Settle(ackIds, Subscription.SettleKind.DeadLetter, TimeSpan.Zero, out _, out var deadLetters);
        await subscription.DeadLetterAsync(deadLetters, reason, rethrow: true).ConfigureAwait(false);
        return result;
    }

    public async ValueTask SeekAsync(TopicName topic, string name, StartPosition position, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(position);
        ValidatePosition(position);
        await StartAsync(cancellationToken).ConfigureAwait(false);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var subscription = _subscriptions.GetValueOrDefault(StateTopics.SubscriptionKey(topic, name)) ?? throw new SubscriptionNotFoundException(topic, name);
            var info = await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
            subscription.EnsurePartitions(info.Partitions.Count);
            var offsets = await ResolveAsync(info, position, forCreate: false, cancellationToken).ConfigureAwait(false);
            subscription.Seek(offsets);
            await _ctx.Writer.CommitAsync(subscription, Enumerable.Range(0, subscription.PartitionCount)).WaitAsync(cancellationToken).ConfigureAwait(false);
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
            .Select(s => _ctx.Writer.CommitAsync(s, Enumerable.Range(0, s.PartitionCount)))
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
        return _subscriptions.GetValueOrDefault(StateTopics.SubscriptionKey(topic, name)) ?? throw new SubscriptionNotFoundException(topic, name);
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
        return subscription;
    }

    private async ValueTask WriteSubscriptionRecordAsync(Subscription subscription, CancellationToken cancellationToken)
    {
        var record = new RecordToAppend(
            StateTopics.Key(StateTopics.SubscriptionKey(subscription.Topic, subscription.Name)),
            StateTopics.EncodeSubscription(subscription.Settings, subscription.Generation));
        await _log.AppendAsync(StateTopics.Subscriptions, 0, [record], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The committed offset per partition for a position. An offset applies to its partition (clamped to what the
    /// partition holds); other partitions start at the latest offset on create and keep their cursor on seek.
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
                    result[p.Partition] = Math.Clamp(position.Offset!.Value, p.StartOffset, p.EndOffset);
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

    private async ValueTask EnsureStateTopicAsync(TopicName topic, CancellationToken cancellationToken)
    {
        if (await _log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        try
        {
            await _log.CreateTopicAsync(topic, StateTopics.Settings, cancellationToken).ConfigureAwait(false);
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

        [LoggerMessage(CoreEventIds.SubscriptionDeleted, LogLevel.Information, "Deleted subscription '{Name}' on '{Topic}'")]
        public static partial void SubscriptionDeleted(ILogger logger, TopicName topic, string name);

        [LoggerMessage(CoreEventIds.SubscriptionSeeked, LogLevel.Information, "Subscription '{Name}' on '{Topic}' moved to {Kind}")]
        public static partial void SubscriptionSeeked(ILogger logger, TopicName topic, string name, StartPositionKind kind);

        [LoggerMessage(CoreEventIds.FinalFlushFailed, LogLevel.Error, "Writing cursors at shutdown failed; unacked state since the last write will be redelivered")]
        public static partial void FinalFlushFailed(ILogger logger, Exception exception);
    }
}
