using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// Replicates one source topic: one consumer of the replicator's subscription on it, records gathered per partition into
/// batches, each batch written, retried or dead-lettered, and acked only once the target acknowledged it.
/// <code>
///   ReceiveAsync ──► lane per partition ──due?──► batch ──► sink.WriteAsync ─┬─ written ─► ack (position moves)
///   (held ≤ cap)      (pending, in flight)   (maxRecords,                    ├─ retry ───► backoff, same batch again
///                                             maxBytes, lingerMs)             └─ refused ─► dead-letter it, write the rest
/// </code>
/// Ordering <c>partition</c>: one batch in flight per lane, so the target sees each partition in order, retries
/// included. A failure of the loop itself releases everything held and starts over (a restart, counted).
/// </summary>
internal sealed partial class ReplicatorWorker
{
    // The engine's longest ack deadline: a batch being retried keeps its leases; only an outage past 12 h lets them expire,
    // and then the worker starts over from the position (see AckAsync).
    private static readonly TimeSpan AckDeadline = TimeSpan.FromHours(12);

    // How long one receive waits before the loop looks at its lanes and the stop signal again.
    private static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(1);

    // A write in flight when the worker stops gets this long to finish (and be acked) before it is abandoned.
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    // A missing topic or an ended subscription is looked at again this often: a topic created later is picked up within seconds.
    private static readonly TimeSpan WaitPause = TimeSpan.FromSeconds(2);

    // Ordering none: batches of one partition in flight at once.
    private const int UnorderedInFlight = 4;

    private readonly ReplicatorDefinition _definition;
    private readonly IReplicationSink _sink;
    private readonly ISubscriptionService _engine;
    private readonly ReplicatorCounters _counters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _writes = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<int, PartitionLane> _lanes = [];
    private readonly HashSet<Task> _batches = [];
    private Task _loop = Task.CompletedTask;
    private TaskCompletionSource _space = NewSignal();
    private CancellationTokenSource? _realign;

    // Ends with the consumer the batches were received through (stop, realign, consumer ended): retries of its batches end too.
    private CancellationToken _session;
    private long _heldRecords;
    private long _heldBytes;
    private long _maxHeldRecords = 1;
    private long _maxHeldBytes = 1;
    private string _state = "running";
    private string? _lastError;
    private DateTimeOffset? _nextAttemptAt;

    public ReplicatorWorker(ReplicatorDefinition definition, TopicName topic, string target, IReplicationSink sink, string sinkType, ISubscriptionService engine, ReplicatorCounters counters, TimeProvider time, ILogger logger)
    {
        _definition = definition;
        Topic = topic;
        Target = target;
        SinkType = sinkType;
        _sink = sink;
        _engine = engine;
        _counters = counters;
        _time = time;
        _logger = logger;
    }

    public TopicName Topic { get; }

    public string Target { get; }

    public string SinkType { get; }

    private string Name => _definition.Name;

    private int MaxInFlight => _definition.Ordering == ReplicatorOrdering.Partition ? 1 : UnorderedInFlight;

    public void Start()
    {
        // The loop outlives the admin request that started it: it must not carry that request's execution context.
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Stops receiving, lets writes in flight finish (at most <see cref="StopGrace"/>), and releases what is left unwritten.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        using var grace = new CancellationTokenSource(StopGrace, _time);
        using (grace.Token.Register(static s => ((CancellationTokenSource)s!).Cancel(), _writes))
        {
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>The worker's state and each lane's retry state, for status.</summary>
    public (string State, string? LastError, DateTimeOffset? NextAttemptAt, Dictionary<int, (bool Retrying, string? Error, DateTimeOffset? Next)> Lanes) Snapshot()
    {
        lock (_gate)
        {
            var lanes = _lanes.Values.ToDictionary(l => l.Partition, l => (l.Retrying, l.LastError, l.NextAttemptAt));
            var state = _state;
            var error = _lastError;
            var next = _nextAttemptAt;
            if (state == "running" && _lanes.Values.FirstOrDefault(l => l.Retrying) is { } retrying)
            {
                state = "retrying";
                error = retrying.LastError;
                next = retrying.NextAttemptAt;
            }

            return (state, error, next, lanes);
        }
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        var pause = TimeSpan.FromSeconds(1);
        while (!stop.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                string waitReason;
                if (!await EnsureSubscriptionAsync(stop).ConfigureAwait(false))
                {
                    waitReason = $"source topic {Topic} does not exist; waiting for it";
                }
                else if (await ConsumeAsync(stop).ConfigureAwait(false))
                {
                    // The subscription or the topic went away, or the engine ended the consumer: look again after a pause,
                    // never at once (a receive on an ended consumer answers at once: looping on it would spin).
                    waitReason = $"the subscription of source topic {Topic} was ended; reopening";
                }
                else
                {
                    // Starting over on purpose (a lease was lost, or stopping): at once.
                    pause = TimeSpan.FromSeconds(1);
                    continue;
                }

                delay = WaitPause;
                pause = TimeSpan.FromSeconds(1);
                SetState("retrying", waitReason, _time.GetUtcNow() + delay);
                Log.Waiting(_logger, Name, Topic.ToString(), waitReason, (long)delay.TotalMilliseconds);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A failed worker restarts by itself, after a pause that doubles (to 30 s) while it keeps failing.
                delay = pause;
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                var error = Scrub($"worker failed: {ex.GetType().Name}: {ex.Message}");
                SetState("failed", error, _time.GetUtcNow() + delay);
                _counters.Error(error, _time.GetUtcNow());
                _counters.Restarted();
                Log.WorkerFailed(_logger, Name, Topic.ToString(), error, (long)delay.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>The replicator's subscription on a source topic.</summary>
    public static SubscriptionSettings SubscriptionSettingsFor(ReplicatorDefinition definition, TopicName topic) => new()
    {
        // One consumer per gateway; in a fleet (Kafka) the subscription's group splits the partitions among gateways.
        Type = SubscriptionType.Exclusive,
        Position = definition.Position,
        Filter = definition.Filter,
        AckDeadline = AckDeadline,
        DeadLetterTopic = definition.DeadLetterTopicFor(topic),
    };

    // False when the topic does not exist. Creates the replicator's subscription on the topic, or brings its settings in line.
    private async Task<bool> EnsureSubscriptionAsync(CancellationToken cancellationToken)
    {
        var settings = SubscriptionSettingsFor(_definition, Topic);
        try
        {
            var existing = await _engine.GetSettingsAsync(Topic, _definition.Subscription, cancellationToken).ConfigureAwait(false);
            if (existing is null || existing.DeadLetterTopic != settings.DeadLetterTopic || existing.AckDeadline != settings.AckDeadline || existing.MaxDeliveries != 0 || existing.Filter != settings.Filter)
            {
                await _engine.CreateOrUpdateAsync(Topic, _definition.Subscription, existing is null ? settings : existing with
                {
                    AckDeadline = settings.AckDeadline,
                    DeadLetterTopic = settings.DeadLetterTopic,
                    MaxDeliveries = 0,

                    // A subscription left with another filter (the replicator deleted and made again under its name):
                    // the engine refuses the change, and the worker's status says so instead of replicating the wrong set.
                    Filter = settings.Filter,
                }, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (TopicNotFoundException)
        {
            return false;
        }
    }

    // True when the consumer was ended by the engine; false to start over at once (a lease was lost: realign on the position).
    private async Task<bool> ConsumeAsync(CancellationToken stop)
    {
        ISubscriptionConsumer consumer;
        try
        {
            consumer = await _engine.OpenConsumerAsync(Topic, _definition.Subscription, _definition.Subscription, stop).ConfigureAwait(false);
        }
        catch (TopicNotFoundException)
        {
            return true;
        }

        var partitions = (await _engine.GetAsync(Topic, _definition.Subscription, stop).ConfigureAwait(false))?.Partitions.Count ?? 1;
        using var realign = new CancellationTokenSource();
        lock (_gate)
        {
            _realign = realign;
            _lanes.Clear();
            _heldRecords = 0;
            _heldBytes = 0;
            var lanes = Math.Clamp(partitions, 1, 8);
            _maxHeldRecords = Math.Max(4L * _definition.Batch.MaxRecords * lanes, 1000);
            _maxHeldBytes = Math.Max(2L * _definition.Batch.MaxBytes, 8L * 1024 * 1024) * lanes;
            _state = "running";
            _lastError = null;
            _nextAttemptAt = null;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, consumer.Ended, realign.Token);
        lock (_gate)
        {
            _session = linked.Token;
        }

        try
        {
            await ReceiveLoopAsync(consumer, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested || consumer.Ended.IsCancellationRequested || realign.IsCancellationRequested)
        {
        }
        finally
        {
            // Writes in flight finish (bounded by StopGrace when stopping); whatever was received and not written goes back
            // to the subscription at once, for this worker's next consumer or another gateway.
            Task[] batches;
            lock (_gate)
            {
                // Over: a lingering lane's wake-up (DispatchWhenDue) that fires from now on starts nothing.
                _session = new CancellationToken(canceled: true);
                batches = [.. _batches];
            }

            await Task.WhenAll(batches).ConfigureAwait(false);
            await consumer.ReleaseInFlightAsync(CancellationToken.None).ConfigureAwait(false);
            await consumer.DisposeAsync().ConfigureAwait(false);
            lock (_gate)
            {
                _realign = null;
                _lanes.Clear();
            }
        }

        return !stop.IsCancellationRequested && !realign.IsCancellationRequested;
    }

    private async Task ReceiveLoopAsync(ISubscriptionConsumer consumer, CancellationToken cancellationToken)
    {
        var quickEmpty = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            TimeSpan wait;
            int room;
            Task space;
            lock (_gate)
            {
                wait = DispatchAllLocked(consumer);
                room = (int)Math.Min(1000, _maxHeldRecords - _heldRecords);
                space = _heldBytes >= _maxHeldBytes || room <= 0 ? _space.Task : Task.CompletedTask;
            }

            if (!space.IsCompleted)
            {
                // Full: hold off receiving until a batch completes (or a lingering lane falls due).
                try
                {
                    await space.WaitAsync(wait, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }

                continue;
            }

            var started = _time.GetTimestamp();
            var deliveries = await consumer.ReceiveAsync(room, wait, cancellationToken).ConfigureAwait(false);
            if (deliveries.Count == 0)
            {
                if (consumer.Ended.IsCancellationRequested)
                {
                    return;
                }

                // An empty answer long before the wait ended, again and again, means the consumer cannot receive: pause
                // rather than spin (the engine may answer an ended consumer at once before it reports it ended).
                if (_time.GetElapsedTime(started) < wait / 10 && ++quickEmpty > 3)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            quickEmpty = 0;
            var now = _time.GetUtcNow();
            lock (_gate)
            {
                foreach (var d in deliveries)
                {
                    if (!_lanes.TryGetValue(d.Partition, out var lane))
                    {
                        _lanes[d.Partition] = lane = new PartitionLane(d.Partition);
                    }

                    var size = Size(d);
                    lane.Add(d, size, now);
                    _heldRecords++;
                    _heldBytes += size;
                }
            }
        }
    }

    // Under _gate. Starts every batch that is due; returns how long until the next lane falls due (at most ReceiveWait).
    private TimeSpan DispatchAllLocked(ISubscriptionConsumer consumer)
    {
        var now = _time.GetUtcNow();
        var wait = ReceiveWait;
        foreach (var lane in _lanes.Values)
        {
            var dueIn = DispatchLocked(lane, consumer, now);
            if (dueIn < wait)
            {
                wait = dueIn;
            }
        }

        return wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait;
    }

    // Under _gate. Starts the lane's due batches; returns how long until its next batch is due (MaxValue: nothing pending).
    private TimeSpan DispatchLocked(PartitionLane lane, ISubscriptionConsumer consumer, DateTimeOffset now)
    {
        var session = _session;
        TimeSpan dueIn;
        while (TakeDueLocked(lane, session, now, out dueIn) is { } deliveries)
        {
            StartLocked(consumer, lane, deliveries, session);
        }

        return dueIn;
    }

    // Under _gate. The lane's next batch when one is due and may be in flight (counted in flight from here), else null
    // with how long until one is due (MaxValue: nothing pending, or no room in flight, or the session is over).
    private List<Delivery>? TakeDueLocked(PartitionLane lane, CancellationToken session, DateTimeOffset now, out TimeSpan dueIn)
    {
        dueIn = TimeSpan.MaxValue;
        if (lane.Pending.Count == 0 || lane.InFlight >= MaxInFlight || session.IsCancellationRequested)
        {
            return null;
        }

        var batch = _definition.Batch;
        var dueAt = lane.FirstPendingAt + batch.Linger;
        var full = lane.Pending.Count >= batch.MaxRecords || lane.PendingBytes >= batch.MaxBytes;
        if (!full && now < dueAt)
        {
            dueIn = dueAt - now;
            return null;
        }

        lane.InFlight++;
        return lane.Take(batch.MaxRecords, batch.MaxBytes, Size, now);
    }

    // Under _gate. One task writes the batch and then, while the lane has another one due, that one too: a partition's
    // next batch starts as soon as its last is acked, without a hop through the thread pool (under load each hop waits
    // for a core, and with one batch in flight per partition that wait is the partition's idle time).
    private void StartLocked(ISubscriptionConsumer consumer, PartitionLane lane, List<Delivery> first, CancellationToken session)
    {
        Task task = null!;
        task = Task.Run(async () =>
        {
            var deliveries = first;
            while (deliveries is not null)
            {
                try
                {
                    await WriteBatchAsync(consumer, lane, deliveries, session).ConfigureAwait(false);
                }
                finally
                {
                    deliveries = OnBatchDone(consumer, lane, deliveries, session, task);
                }
            }
        });
        _batches.Add(task);
    }

    // Settles a finished batch; returns the lane's next batch for the same task when one is due (else the task ends).
    private List<Delivery>? OnBatchDone(ISubscriptionConsumer consumer, PartitionLane lane, List<Delivery> deliveries, CancellationToken session, Task task)
    {
        TaskCompletionSource space;
        List<Delivery>? next;
        lock (_gate)
        {
            lane.InFlight--;
            _heldRecords -= deliveries.Count;
            _heldBytes -= deliveries.Sum(Size);
            space = _space;
            _space = NewSignal();
            var now = _time.GetUtcNow();
            next = TakeDueLocked(lane, session, now, out var dueIn);
            if (next is null)
            {
                _batches.Remove(task);
                if (dueIn != TimeSpan.MaxValue)
                {
                    DispatchWhenDue(consumer, dueIn, session);
                }
            }
            else
            {
                // Ordering none: the lane's other due batches start beside it.
                DispatchLocked(lane, consumer, now);
            }
        }

        space.TrySetResult();
        return next;
    }

    // A lane left lingering (lingerMs) when its batch completed: the receive loop may be inside a receive that waits up to
    // ReceiveWait, computed while the lane was in flight, so its records would wait that long instead of their linger.
    private void DispatchWhenDue(ISubscriptionConsumer consumer, TimeSpan dueIn, CancellationToken session)
        => _ = Task.Delay(dueIn, _time, session).ContinueWith(
            _ =>
            {
                lock (_gate)
                {
                    if (_session == session && !session.IsCancellationRequested)
                    {
                        DispatchAllLocked(consumer);
                    }
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion,
            TaskScheduler.Default);

    // Never throws. Writes the batch until it is written (or its records dead-lettered); on stop, leaves it unacked.
    private async Task WriteBatchAsync(ISubscriptionConsumer consumer, PartitionLane lane, List<Delivery> deliveries, CancellationToken session)
    {
        try
        {
            // Segments still to write, in offset order; a refusal that names no record splits its segment in two.
            var segments = new LinkedList<List<Delivery>>();
            segments.AddFirst(deliveries);
            while (segments.First is { } first)
            {
                segments.RemoveFirst();
                await WriteSegmentAsync(consumer, lane, first.Value, segments, session).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (session.IsCancellationRequested || _writes.IsCancellationRequested)
        {
            // Stopping or starting over: unacked records are released when the consumer closes.
            ClearRetry(lane);
        }
        catch (Exception ex)
        {
            // Acking or dead-lettering failed (the backend): start over from the position rather than go on out of step.
            Log.BatchFailed(_logger, Name, Topic.ToString(), lane.Partition, Scrub(ex.GetType().Name + ": " + ex.Message));
            _counters.Error(Scrub($"batch of partition {lane.Partition} failed: {ex.GetType().Name}: {ex.Message}"), _time.GetUtcNow());
            Realign();
        }
    }

    private async Task WriteSegmentAsync(ISubscriptionConsumer consumer, PartitionLane lane, List<Delivery> segment, LinkedList<List<Delivery>> rest, CancellationToken session)
    {
        var attempt = 0;
        while (segment.Count > 0)
        {
            session.ThrowIfCancellationRequested();
            var records = segment.Select(d => new SinkRecord(Topic, lane.Partition, d.Record)).ToList();
            var started = _time.GetTimestamp();
            SinkWriteResult result;
            try
            {
                result = await _sink.WriteAsync(new SinkBatch(Topic, lane.Partition, Target, records), _writes.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_writes.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                result = SinkWriteResult.Retry($"{ex.GetType().Name}: {ex.Message}");
            }

            var seconds = _time.GetElapsedTime(started).TotalSeconds;
            if (result.Outcome != SinkWriteOutcome.Written && result.Acknowledged > 0)
            {
                // The target took the first records before it failed: they count as written, the rest goes on.
                var done = Math.Min(result.Acknowledged, segment.Count);
                await AckAsync(consumer, lane, segment[..done], records[..done], seconds).ConfigureAwait(false);
                segment = segment[done..];
                if (segment.Count == 0)
                {
                    return;
                }

                result = result.RefusedIndex is { } refusedAt
                    ? SinkWriteResult.Refused(result.Error ?? "refused", refusedAt - done)
                    : result.Outcome == SinkWriteOutcome.Refused ? SinkWriteResult.Refused(result.Error ?? "refused") : SinkWriteResult.Retry(result.Error ?? "transient failure", result.RetryAfter);
            }

            switch (result.Outcome)
            {
                case SinkWriteOutcome.Written:
                    await AckAsync(consumer, lane, segment, records, seconds).ConfigureAwait(false);
                    return;

                case SinkWriteOutcome.Refused when result.RefusedIndex is { } index && index >= 0 && index < segment.Count:
                    await DeadLetterAsync([segment[index]], "refused: " + Scrub(result.Error ?? "by the target")).ConfigureAwait(false);
                    segment = [.. segment.Where((_, i) => i != index)];
                    attempt = 0;
                    continue;

                case SinkWriteOutcome.Refused when segment.Count == 1:
                    await DeadLetterAsync(segment, "refused: " + Scrub(result.Error ?? "by the target")).ConfigureAwait(false);
                    return;

                case SinkWriteOutcome.Refused:
                    // The target refused some record without saying which: write each half on its own, in order.
                    var half = segment.Count / 2;
                    rest.AddFirst(segment[half..]);
                    segment = segment[..half];
                    attempt = 0;
                    continue;

                default:
                    attempt++;
                    var error = Scrub(result.Error ?? "transient failure");
                    ReplicationMetrics.OnFailed(Name, SinkType, seconds);
                    _counters.Retried();
                    var now = _time.GetUtcNow();
                    _counters.Error(error, now);
                    if (_definition.Retry.MaxAttempts > 0 && attempt >= _definition.Retry.MaxAttempts)
                    {
                        await DeadLetterAsync(segment, $"retries-exhausted: {attempt} attempts, last: {error}").ConfigureAwait(false);
                        ClearRetry(lane);
                        return;
                    }

                    var delay = _definition.Retry.Backoff(attempt, Random.Shared.NextDouble());
                    if (result.RetryAfter is { } after && after > delay)
                    {
                        delay = after < TimeSpan.FromHours(1) ? after : TimeSpan.FromHours(1);
                    }

                    lock (_gate)
                    {
                        lane.Retrying = true;
                        lane.LastError = error;
                        lane.NextAttemptAt = now + delay;
                    }

                    if (attempt == 1)
                    {
                        Log.WriteFailed(_logger, Name, Topic.ToString(), lane.Partition, error, (long)delay.TotalMilliseconds);
                    }

                    await Task.Delay(delay, _time, session).ConfigureAwait(false);
                    continue;
            }
        }
    }

    private async Task AckAsync(ISubscriptionConsumer consumer, PartitionLane lane, List<Delivery> segment, List<SinkRecord> records, double seconds)
    {
        var acked = await consumer.AckAsync(segment, waitDurable: false).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        long bytes = 0;
        var delay = 0.0;
        foreach (var r in records)
        {
            bytes += r.Bytes;
            delay = Math.Max(delay, (now - r.PublishTime).TotalSeconds);
        }

        _counters.Written(records.Count, bytes, now);
        ReplicationMetrics.OnWritten(Name, SinkType, records.Count, bytes, seconds, delay);
        ClearRetry(lane);
        if (acked < segment.Count && !_stop.IsCancellationRequested)
        {
            // Some leases ended before the ack (an outage past the ack deadline, or a fleet moved the partition away): those
            // records come back from the subscription. Start over from the position so they are written in order again.
            Log.LeasesLost(_logger, Name, Topic.ToString(), lane.Partition, segment.Count - acked);
            Realign();
        }
    }

    private async Task DeadLetterAsync(List<Delivery> deliveries, string reason)
    {
        await _engine.DeadLetterAsync(Topic, _definition.Subscription, [.. deliveries.Select(d => d.AckId)], reason).ConfigureAwait(false);
        _counters.AddDeadLettered(deliveries.Count);
        ReplicationMetrics.OnDeadLettered(Name, SinkType, deliveries.Count);
        Log.DeadLettered(_logger, Name, Topic.ToString(), deliveries.Count, reason);
    }

    private void ClearRetry(PartitionLane lane)
    {
        lock (_gate)
        {
            lane.Retrying = false;
            lane.LastError = null;
            lane.NextAttemptAt = null;
        }
    }

    private void Realign()
    {
        CancellationTokenSource? realign;
        lock (_gate)
        {
            realign = _realign;
        }

        try
        {
            realign?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The consumer it belonged to is already closed.
        }
    }

    private void SetState(string state, string? error, DateTimeOffset? next)
    {
        lock (_gate)
        {
            _state = state;
            _lastError = error;
            _nextAttemptAt = next;
        }
    }

    private string Scrub(string text) => SecretReferences.Scrub(text, _definition.Secrets);

    // A delivery's share of the batch and held-byte limits (a method group: lanes take it as a delegate).
    private static long Size(Delivery d) => d.Record.PayloadBytes();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.ReplicatorWaiting, LogLevel.Warning, "Replicator {Name}, topic {Topic}: {Reason}; next look in {DelayMs} ms")]
        public static partial void Waiting(ILogger logger, string name, string topic, string reason, long delayMs);

        [LoggerMessage(CoreEventIds.ReplicatorWorkerFailed, LogLevel.Error, "Replicator {Name}, topic {Topic}: {Error}; restarting in {DelayMs} ms")]
        public static partial void WorkerFailed(ILogger logger, string name, string topic, string error, long delayMs);

        [LoggerMessage(CoreEventIds.ReplicatorWriteFailed, LogLevel.Warning, "Replicator {Name}, topic {Topic}, partition {Partition}: write failed ({Error}); retrying in {DelayMs} ms")]
        public static partial void WriteFailed(ILogger logger, string name, string topic, int partition, string error, long delayMs);

        [LoggerMessage(CoreEventIds.ReplicatorDeadLettered, LogLevel.Information, "Replicator {Name}, topic {Topic}: {Count} records dead-lettered ({Reason})")]
        public static partial void DeadLettered(ILogger logger, string name, string topic, int count, string reason);

        [LoggerMessage(CoreEventIds.ReplicatorBatchFailed, LogLevel.Error, "Replicator {Name}, topic {Topic}, partition {Partition}: settling a batch failed ({Error}); starting over from the position")]
        public static partial void BatchFailed(ILogger logger, string name, string topic, int partition, string error);

        [LoggerMessage(CoreEventIds.ReplicatorLeasesLost, LogLevel.Warning, "Replicator {Name}, topic {Topic}, partition {Partition}: {Count} records were written after their leases ended; starting over from the position")]
        public static partial void LeasesLost(ILogger logger, string name, string topic, int partition, int count);
    }
}
