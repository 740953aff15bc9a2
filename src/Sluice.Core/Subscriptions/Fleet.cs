using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// What one gateway instance of a fleet learns from the others, through the backend alone (no instance talks to
/// another):
/// <code>
/// __sluice/system/subscriptions ──follow──► create / update / delete / seek made elsewhere, applied here
/// __sluice/system/cursors       ──follow──► latest cursor per partition: mirrors for lag, start point on assignment
/// __sluice/system/acks          ──follow──► acks and nacks received elsewhere for partitions delivered here
/// </code>
/// Partition ownership itself comes from the <see cref="IPartitionCoordinator"/>.
/// </summary>
internal sealed partial class Fleet
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly IMessageLog _log;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (long Generation, PartitionCursor Cursor)> _cursors = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private StateFollower? _subscriptionFollower;
    private StateFollower? _cursorFollower;
    private StateFollower? _ackFollower;

    public Fleet(IMessageLog log, ILogger logger)
    {
        _log = log;
        _logger = logger;
    }

    /// <summary>Seeds the cursor map from what the engine loaded at start.</summary>
    public void SeedCursor(string key, ReadOnlyMemory<byte> value)
    {
        if (PartitionCursor.TryDecode(value.Span, out var generation, out var cursor))
        {
            lock (_gate)
            {
                _cursors[key] = (generation, cursor);
            }
        }
    }

    /// <summary>Starts following the three topics from where the start-up load stopped.</summary>
    public void Start(
        long subscriptionsFrom,
        long cursorsFrom,
        long acksFrom,
        Func<StoredRecord, ValueTask> onSubscription,
        Func<string, int, long, PartitionCursor?, ValueTask> onCursor,
        Func<ForwardedAcks, ValueTask> onAcks,
        TimeProvider time)
    {
        _subscriptionFollower = new StateFollower(_log, StateTopics.Subscriptions, subscriptionsFrom, onSubscription, time, _logger);
        _cursorFollower = new StateFollower(_log, StateTopics.Cursors, cursorsFrom, r => ApplyCursorAsync(r, onCursor), time, _logger);
        _ackFollower = new StateFollower(_log, StateTopics.Acks, acksFrom, r => ApplyAcksAsync(r, onAcks), time, _logger);
        _subscriptionFollower.Start(_stop.Token);
        _cursorFollower.Start(_stop.Token);
        _ackFollower.Start(_stop.Token);
    }

    public ValueTask CatchUpSubscriptionsAsync(CancellationToken cancellationToken)
        => _subscriptionFollower?.CatchUpAsync(cancellationToken) ?? ValueTask.CompletedTask;

    public ValueTask CatchUpCursorsAsync(CancellationToken cancellationToken)
        => _cursorFollower?.CatchUpAsync(cancellationToken) ?? ValueTask.CompletedTask;

    /// <summary>The latest durable cursor of a partition of this generation of the subscription, if any was written.</summary>
    public PartitionCursor? TryGetCursor(TopicName topic, string name, int partition, long generation)
    {
        lock (_gate)
        {
            if (_cursors.TryGetValue(StateTopics.CursorKey(topic, name, partition), out var c) && c.Generation == generation)
            {
                var copy = new PartitionCursor(0);
                copy.CopyFrom(c.Cursor);
                return copy;
            }

            return null;
        }
    }

    /// <summary>Appends acks or nacks for the member that delivers their partitions; completes once durable.</summary>
    public async ValueTask ForwardAsync(TopicName topic, string name, ForwardedAcks.Kinds kind, TimeSpan delay, IReadOnlyList<string> ackIds, CancellationToken cancellationToken)
    {
        var value = JsonSerializer.SerializeToUtf8Bytes(
            new ForwardedAcks { Topic = topic.ToString(), Name = name, Kind = kind, DelayMs = (long)delay.TotalMilliseconds, AckIds = [.. ackIds] },
            Json);
        var key = StateTopics.Key(StateTopics.SubscriptionKey(topic, name));
        await _log.AppendAsync(StateTopics.Acks, 0, [new RecordToAppend(key, value)], cancellationToken).ConfigureAwait(false);
    }

    public void Stop() => _stop.Cancel();

    private async ValueTask ApplyCursorAsync(StoredRecord record, Func<string, int, long, PartitionCursor?, ValueTask> onCursor)
    {
        if (record.Key is not { } k)
        {
            return;
        }

        var key = Encoding.UTF8.GetString(k.Span);
        if (!StateTopics.TrySplitCursorKey(key, out var subscriptionKey, out var partition))
        {
            return;
        }

        if (record.Value is not { } value)
        {
            lock (_gate)
            {
                _cursors.Remove(key);
            }

            return;
        }

        if (!PartitionCursor.TryDecode(value.Span, out var generation, out var cursor))
        {
            Log.RemoteChangeIgnored(_logger, StateTopics.Cursors, key, "malformed cursor");
            return;
        }

        lock (_gate)
        {
            _cursors[key] = (generation, cursor);
        }

        await onCursor(subscriptionKey, partition, generation, cursor).ConfigureAwait(false);
    }

    private async ValueTask ApplyAcksAsync(StoredRecord record, Func<ForwardedAcks, ValueTask> onAcks)
    {
        if (record.Value is not { } value)
        {
            return;
        }

        ForwardedAcks? acks;
        try
        {
            acks = JsonSerializer.Deserialize<ForwardedAcks>(value.Span, Json);
        }
        catch (JsonException)
        {
            acks = null;
        }

        if (acks is null || acks.AckIds.Count == 0)
        {
            Log.RemoteChangeIgnored(_logger, StateTopics.Acks, record.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), "malformed forwarded acks");
            return;
        }

        await onAcks(acks).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.RemoteChangeIgnored, LogLevel.Warning, "Ignored record '{Key}' of state topic '{Topic}': {Reason}")]
        public static partial void RemoteChangeIgnored(ILogger logger, TopicName topic, string key, string reason);
    }
}

/// <summary>Acks or nacks a fleet member received for partitions another member delivers (value of the acks topic).</summary>
internal sealed class ForwardedAcks
{
    public enum Kinds
    {
        Ack,
        Nack,
    }

    public string Topic { get; set; } = "";

    public string Name { get; set; } = "";

    [JsonConverter(typeof(JsonStringEnumConverter<Kinds>))]
    public Kinds Kind { get; set; }

    public long DelayMs { get; set; }

    public List<string> AckIds { get; set; } = [];
}
