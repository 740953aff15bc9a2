using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// One subscription in memory: its partitions' cursors, read-ahead, leases, redelivery and consumers.
/// <code>
/// log ──ReadAsync/WaitForDataAsync──► pump (one per partition, while consumers are registered)
///        ├─ filter does not match ──► Cursor (acked at once, counted in FilteredOut)
///        └─► Buffer ──Receive──► Outstanding[InFlight] ──ack──► Cursor ──CursorWriter──► __sluice/system/cursors
///              │          ▲              │ nack / deadline / session expiry / release          ▲
///              │          └── Ready ◄────┴─(delay)─ Delayed        attempts ≥ max ──► dead-letter topic, then ack
///              │                 ▲ returned (an entry, attempt 1)                               │
///              └─Receive, held (HoldNewMessages: no entry, no deadline)─────────────ack───────────┘
/// </code>
/// All state is guarded by <see cref="_gate"/>; critical sections do no I/O. One timer per subscription fires at
/// the earliest of: the oldest lease deadline, the earliest nack delay, the earliest consumer session expiry.
/// </summary>
internal sealed partial class Subscription
{
    private readonly EngineContext _ctx;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ConsumerState> _consumers = new(StringComparer.Ordinal);
    private readonly List<PartitionState> _partitions = [];

    // In-flight entries in deadline order: the ack deadline is one value per subscription, so appending keeps it sorted
    // (a settings change can leave a later deadline ahead of earlier ones for one deadline's time; it only delays them).
    private readonly LeaseList _leases = new();
    private readonly PriorityQueue<Entry, DateTimeOffset> _delayed = new();
    private readonly PriorityQueue<ConsumerState, DateTimeOffset> _sessions = new();
    private readonly LinkedList<ReceiveWaiter> _waiters = new();
    private long _signals;
    private ITimer? _timer;
    private DateTimeOffset _timerDue = DateTimeOffset.MaxValue;
    private CancellationTokenSource? _pumps;
    private long _nextOrder;
    private int _rotate;

    public Subscription(EngineContext ctx, TopicName topic, string name, SubscriptionSettings settings, long generation, IReadOnlyDictionary<int, PartitionCursor> cursors)
    {
        _ctx = ctx;
        Topic = topic;
        Name = name;
        Settings = settings;
        Generation = generation;
        _source = new DeliverySource(topic, generation, (uint)Random.Shared.Next());
        var count = cursors.Count == 0 ? 0 : cursors.Keys.Max() + 1;
        for (var p = 0; p < count; p++)
        {
            _partitions.Add(new PartitionState(p, cursors.TryGetValue(p, out var c) ? c : new PartitionCursor(0)) { Owned = !ctx.Coordinator.IsShared });
        }
    }

    public TopicName Topic { get; }

    /// <summary>Message counts for metrics: bumped once per batch, read by <see cref="SubscriptionService.CollectCounts"/>.</summary>
    public SubscriptionCounters Counters { get; } = new();

    public string Name { get; }

    public SubscriptionSettings Settings { get; private set; }

    /// <summary>Persisted; new for every created subscription.</summary>
    public long Generation { get; }

    /// <summary>In memory; random per load, changed by every seek (see <see cref="AckId"/>).</summary>
    public uint Epoch => _source.Epoch;

    // Topic, generation and epoch for this epoch's deliveries (one object, not three fields copied into each); a seek
    // makes the next epoch's.
    private DeliverySource _source;

    public bool Deleted { get; private set; }

    public int PartitionCount
    {
        get
        {
            lock (_gate)
            {
                return _partitions.Count;
            }
        }
    }

    public TopicName DeadLetterTopic => Settings.DeadLetterTopic ?? new TopicName(Topic.Tenant, Topic.Namespace, Topic.Name + "-dlq");

    private DateTimeOffset Now => _ctx.Time.GetUtcNow();

    /// <summary>Adds partition states up to <paramref name="count"/> (the topic grew); new ones start at the earliest offset.</summary>
    public void EnsurePartitions(int count)
    {
        lock (_gate)
        {
            EnsurePartitionsLocked(count);
        }
    }

    private void EnsurePartitionsLocked(int count)
    {
        while (_partitions.Count < count)
        {
            var p = new PartitionState(_partitions.Count, new PartitionCursor(0)) { Owned = !_ctx.Coordinator.IsShared };
            _partitions.Add(p);
            if (_pumps is { } pumps)
            {
                StartPump(p, pumps.Token);
            }
        }
    }

    public void UpdateSettings(SubscriptionSettings settings)
    {
        lock (_gate)
        {
            if (settings.Type != Settings.Type && _consumers.Count > 0)
            {
                throw new InvalidSubscriptionSettingsException(
                    $"subscription type can change only while no consumer is connected; '{Name}' has {_consumers.Count}");
            }

            if (settings.Filter != Settings.Filter)
            {
                throw new SubscriptionFilterFixedException(Topic, Name, Settings.Filter, settings.Filter);
            }

            // The start position applies when a subscription is created; moving an existing one is a seek.
            var keyShared = settings.Type == SubscriptionType.KeyShared && Settings.Type != SubscriptionType.KeyShared;
            Settings = settings with { Position = Settings.Position };
            if (keyShared)
            {
                NameKeys();
            }

            Signal();
        }
    }

    // Under _gate. Names the keys of what the subscription holds from before it was key_shared (read ahead, and
    // outstanding: ready, delayed or being dead-lettered; nothing is in flight, as no consumer is connected), so that a
    // key's later messages wait for them.
    private void NameKeys()
    {
        foreach (var p in _partitions)
        {
            for (var i = 0; i < p.Buffer.Count; i++)
            {
                var b = p.Buffer[i];
                p.Buffer.Replace(i, b with { KeyId = KeyIdOf(b.Record) });
            }

            p.KeyOutstanding.Clear();
            foreach (var e in p.Outstanding.Values)
            {
                e.KeyId = KeyIdOf(e.Record);
                TrackKey(p, e);
            }
        }
    }

    // ---- consumers -------------------------------------------------------------------------------------------

    public ConsumerState Attach(string consumerId)
    {
        lock (_gate)
        {
            if (Deleted)
            {
                throw new SubscriptionNotFoundException(Topic, Name);
            }

            var now = Now;
            if (_consumers.TryGetValue(consumerId, out var c))
            {
                c.Handles++;
                c.LastSeen = now;
            }
            else
            {
                if (Settings.Type == SubscriptionType.Exclusive && _consumers.Count > 0)
                {
                    throw new SubscriptionBusyException(Topic, Name);
                }

                c = new ConsumerState(consumerId, _nextOrder++) { Handles = 1, LastSeen = now };
                _consumers.Add(consumerId, c);
                Signal();
            }

            if (_pumps is null)
            {
                _pumps = new CancellationTokenSource();
                foreach (var p in _partitions)
                {
                    StartPump(p, _pumps.Token);
                }
            }

            return c;
        }
    }

    public void Detach(ConsumerState c)
    {
        lock (_gate)
        {
            c.Handles--;
            c.LastSeen = Now;
            if (c.Handles == 0 && c.Registered && !c.SessionQueued)
            {
                // One queued check per consumer: a pull client detaches after every request, and the check re-queues
                // itself when the consumer was seen again meanwhile.
                c.SessionQueued = true;
                _sessions.Enqueue(c, c.LastSeen + _ctx.Options.ConsumerSessionTimeout);
                ArmTimer();
            }
        }
    }

    /// <summary>Returns the consumer's in-flight messages for redelivery at once.</summary>
    public void Release(ConsumerState c)
    {
        List<Entry> deadLetters = [];
        lock (_gate)
        {
            ReleaseLocked(c, Now, deadLetters);
            Signal();
        }

        StartDeadLetter(deadLetters);
    }

    /// <summary>
    /// Returns deliveries <paramref name="c"/> took held, for redelivery at once: each becomes an entry as if its lease
    /// (attempt 1) had ended, so it is ready again, or dead-lettered when one delivery is the limit. Settled or stale ones
    /// are left out.
    /// </summary>
    public void ReturnHeld(IEnumerable<Delivery> held, ConsumerState c)
    {
        List<Entry> deadLetters = [];
        lock (_gate)
        {
            var now = Now;
            var returned = false;
            foreach (var d in held)
            {
                // Tracked already: the same offset delivered twice in one epoch (never expected). The entry that is
                // there stands for it; the others are still returned.
                if (Unhold(d, c) is not { } p || p.Outstanding.ContainsKey(d.Record.Offset))
                {
                    continue;
                }

                var e = new Entry(p.Partition, d.Record, KeyIdFor(d.Record)) { Attempt = 1 };
                Track(p, e);
                Return(p, e, TimeSpan.Zero, now, deadLetters);
                returned = true;
            }

            if (returned)
            {
                Signal();
            }
        }

        StartDeadLetter(deadLetters);
    }

    // ---- receive ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Takes up to <paramref name="max"/> messages for <paramref name="c"/> (redeliveries first); when none,
    /// <paramref name="waiter"/> is parked and armed, and <paramref name="changed"/> is null: the waiter's wait ends at the
    /// next change that might make some available. Otherwise <paramref name="changed"/> is what to wait for before looking
    /// again (completed when something changed meanwhile). A receive that stops waiting calls <see cref="EndWait"/>.
    /// With <paramref name="hold"/>, new messages are taken held (<see cref="Delivery.HeldBy"/>) rather than leased.
    /// </summary>
    public IReadOnlyList<Delivery> Take(ConsumerState c, int max, ReceiveWaiter? waiter, out Task? changed, bool hold = false)
    {
        var result = TakeCore(c, max, hold, out var seen);
        lock (_gate)
        {
            changed = AfterTake(c, result.Count, waiter, seen);
        }

        return result;
    }

    /// <summary>Unparks <paramref name="waiter"/>; a wake it got but did not act on goes to the next waiter.</summary>
    public void EndWait(ReceiveWaiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Parked)
            {
                Unpark(waiter);
            }
            else if (waiter.Woken)
            {
                waiter.Woken = false;
                PassWakeOn();
            }
        }
    }

    private IReadOnlyList<Delivery> TakeCore(ConsumerState c, int max, bool hold, out long seen)
    {
        List<Delivery> result;
        lock (_gate)
        {
            seen = _signals;
            var now = Now;
            c.LastSeen = now;
            if (Deleted || !c.Registered || _partitions.Count == 0
                || (Settings.Type == SubscriptionType.Failover && ActiveConsumer() != c))
            {
                return [];
            }

            // Sized once for what may be taken (a list grown from empty to a pull's 1,000 makes nine arrays).
            var available = 0;
            foreach (var p in _partitions)
            {
                available += p.Ready.Count + p.Buffer.Count;
            }

            if (available == 0)
            {
                // The common answer of an idle consumer's look: no list made for it.
                return [];
            }

            result = new List<Delivery>(Math.Min(max, available));

            var keyShared = Settings.Type == SubscriptionType.KeyShared;
            hold &= !keyShared;
            var live = keyShared ? _consumers.Values.ToArray() : null;
            var blocked = keyShared ? new HashSet<string>(StringComparer.Ordinal) : null;
            var n = _partitions.Count;
            var start = (int)((uint)_rotate++ % (uint)n);

            // Redeliveries first, per partition in offset order.
            for (var k = 0; k < n && result.Count < max; k++)
            {
                var p = _partitions[(start + k) % n];
                if (p.Ready.Count == 0)
                {
                    continue;
                }

                List<long>? taken = null;
                foreach (var offset in p.Ready)
                {
                    if (result.Count >= max)
                    {
                        break;
                    }

                    var e = p.Outstanding[offset];
                    if (blocked is not null && e.KeyId is not null
                        && (!blocked.Add(e.KeyId) || Assigned(live!, e.KeyId) != c || KeyHasEarlierOrInFlight(p, e)))
                    {
                        continue;
                    }

                    (taken ??= []).Add(offset);
                    result.Add(Lease(e, c, now));
                }

                if (taken is not null)
                {
                    foreach (var offset in taken)
                    {
                        p.Ready.Remove(offset);
                    }
                }
            }

            // Then new messages from the read-ahead.
            for (var k = 0; k < n && result.Count < max; k++)
            {
                var p = _partitions[(start + k) % n];
                var i = 0;
                var took = false;
                while (i < p.Buffer.Count && result.Count < max)
                {
                    var b = p.Buffer[i];
                    if (blocked is not null && b.KeyId is not null
                        && (!blocked.Add(b.KeyId) || Assigned(live!, b.KeyId) != c || p.KeyOutstanding.ContainsKey(b.KeyId)))
                    {
                        i++;
                        continue;
                    }

                    p.Buffer.RemoveAt(i);
                    took = true;
                    if (hold)
                    {
                        result.Add(Hold(p, b.Record, c));
                        continue;
                    }

                    var e = new Entry(p.Partition, b.Record, b.KeyId);
                    Track(p, e);
                    result.Add(Lease(e, c, now));
                }

                if (took && p.HasRoom(_ctx.Options))
                {
                    p.SignalSpace();
                }
            }

            if (result.Count > 0)
            {
                ArmTimer();
            }
        }

        var redelivered = 0;
        foreach (var d in result)
        {
            redelivered += d.DeliveryAttempt > 1 ? 1 : 0;
        }

        Counters.Delivered(result.Count, redelivered);
        return result;
    }

    /// <summary>
    /// Reads once from the log, inline, for each partition whose read-ahead is empty, so a receive that finds nothing
    /// sees what the log already holds even before the pump got to it (a pull with no wait right after attaching).
    /// With <paramref name="topUp"/> above 0 (what a receive is about to ask for), reads instead, when fewer are buffered
    /// over all partitions, toward that many from partitions whose log held more at their last read: about
    /// <see cref="DeliveryOptions.ReadAheadBytes"/> in all, and not for key_shared subscriptions (whose takes are bounded
    /// by their keys, not by what is buffered). Safe beside the pump: records below the read position are skipped, so
    /// nothing is buffered twice.
    /// </summary>
    public async ValueTask FillAsync(ConsumerState c, CancellationToken cancellationToken, int topUp = 0)
    {
        List<(PartitionState Partition, long From, int Epoch, int MaxCount)>? reads = null;
        var wanted = topUp;
        lock (_gate)
        {
            if (Deleted || (Settings.Type == SubscriptionType.Failover && ActiveConsumer() != c)
                || (topUp > 0 && (Settings.Type == SubscriptionType.KeyShared || !c.Registered || c.Ended.IsCancellationRequested)))
            {
                return;
            }

            var options = _ctx.Options;
            var n = _partitions.Count;
            if (topUp > 0)
            {
                foreach (var p in _partitions)
                {
                    wanted -= p.Buffer.Count;
                }

                if (wanted <= 0)
                {
                    return;
                }
            }

            // From the partition the next take starts at, so a backlog drains from every partition alike.
            var start = n == 0 ? 0 : (int)((uint)_rotate % (uint)n);
            for (var k = 0; k < n; k++)
            {
                var p = _partitions[(start + k) % n];

                // Within the partition's bound on unacked messages as it stands now (what is buffered will be taken).
                var room = options.MaxUnackedPerPartition - p.Outstanding.Count - p.Held - p.Buffer.Count;
                if (p.Owned && room > 0 && (topUp == 0 ? p.Buffer.Count == 0 : p.ReadPosition < p.LogEnd))
                {
                    (reads ??= []).Add((p, p.ReadPosition, p.FetchEpoch, Math.Min(room, topUp == 0 ? options.ReadAheadMessages : wanted)));
                }
            }
        }

        if (reads is null)
        {
            return;
        }

        var bytes = _ctx.Options.ReadAheadBytes;
        foreach (var (p, from, epoch, maxCount) in reads)
        {
            // The first look reads each partition once. A top-up reads on while a read brings records and the log holds
            // more (a read may stop short, at a segment's end or at its byte bound), until it has what it wants.
            var position = from;
            var left = maxCount;
            do
            {
                ReadResult read;
                try
                {
                    read = await _ctx.Log.ReadAsync(Topic, p.Partition, position, topUp == 0 ? left : Math.Min(left, wanted), bytes, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Only a shortcut: the pump handles (and logs) out-of-range offsets, missing topics and backend errors.
                    break;
                }

                var filtered = 0;
                bool current;
                lock (_gate)
                {
                    current = epoch == p.FetchEpoch && !Deleted;
                    if (current && read.Records.Count == 0)
                    {
                        // Nothing there: known now, so the next receive does not read again for it before the pump has.
                        SeeLogEnd(p, read);
                    }
                    else if (current && AddFetched(p, read, out filtered) is var added and > 0)
                    {
                        wanted -= added;
                        Signal();
                    }

                    position = p.ReadPosition;
                }

                OnFilteredOut(p, filtered);
                if (topUp == 0 || !current || read.Records.Count == 0 || read.NextOffset >= read.EndOffset)
                {
                    break;
                }

                left -= read.Records.Count;
                for (var i = 0; i < read.Records.Count; i++) // indexed: a foreach over the interface boxes its enumerator
                {
                    var r = read.Records[i];
                    bytes -= (r.Key?.Length ?? 0) + (r.Value?.Length ?? 0);
                }
            }
            while (left > 0 && wanted > 0 && bytes > 0);

            if (topUp > 0 && (wanted <= 0 || bytes <= 0))
            {
                return;
            }
        }
    }

    // ---- ack / nack / dead-letter ----------------------------------------------------------------------------

    public enum SettleKind
    {
        Ack,
        Nack,
        DeadLetter,
    }

    /// <summary>
    /// Applies acks, nacks or dead-letter requests. Returns the partitions whose cursor changed (to persist) and the
    /// entries to append to the dead-letter topic.
    /// </summary>
    public AckResult Settle(AckIdList ackIds, SettleKind kind, TimeSpan delay, out PartitionSet dirty, out List<Entry> deadLetters)
    {
        List<string> unknown = [];
        List<string> expired = [];
        var succeeded = 0;
        dirty = default;
        deadLetters = [];
        lock (_gate)
        {
            var now = Now;
            for (var i = 0; i < ackIds.Count; i++)
            {
                var isExpired = false;
                var entry = ackIds.TryGet(i, out var id) ? Find(id, now, out isExpired) : null;
                if (entry is null || (kind != SettleKind.Ack && entry.State != EntryState.InFlight))
                {
                    // Only a live lease can be handed back or dead-lettered; a position id may name a waiting message.
                    (isExpired || entry is not null ? expired : unknown).Add(ackIds[i]);
                    continue;
                }

                var p = _partitions[entry.Partition];
                switch (kind)
                {
                    case SettleKind.Ack:
                        AckEntry(p, entry);
                        dirty.Add(p.Partition);
                        break;
                    case SettleKind.Nack:
                        Return(p, entry, delay, now, deadLetters);
                        break;
                    default:
                        Unlease(entry);
                        entry.State = EntryState.DeadLettering;
                        deadLetters.Add(entry);
                        break;
                }

                succeeded++;
            }

            // An ack makes something deliverable only by unblocking a key; a nack does whenever it is immediate.
            if (succeeded > 0 && (kind == SettleKind.Nack || Settings.Type == SubscriptionType.KeyShared))
            {
                Signal();
            }

            if (succeeded > 0)
            {
                ArmTimer();
            }
        }

        if (kind == SettleKind.Ack)
        {
            Counters.Acked(succeeded);
        }
        else if (kind == SettleKind.Nack)
        {
            Counters.Nacked(succeeded);
        }

        return new AckResult(succeeded, unknown, expired);
    }

    /// <summary>
    /// Acks deliveries <paramref name="c"/> received, by their entries. A delivery whose lease ended (expired, released,
    /// a seek, a hand-over) is left out of the count and, when it may still be settled elsewhere (a partition another
    /// fleet member now delivers), returned in <paramref name="elsewhere"/> for the id-based path.
    /// </summary>
    public int AckDeliveries(IReadOnlyList<Delivery> deliveries, ConsumerState c, out PartitionSet dirty, out List<string>? elsewhere)
    {
        var succeeded = 0;
        dirty = default;
        elsewhere = null;
        lock (_gate)
        {
            var now = Now;
            for (var i = 0; i < deliveries.Count; i++) // indexed: a foreach over the interface boxes its enumerator
            {
                var d = deliveries[i];
                if (d.HeldBy is not null)
                {
                    if (Unhold(d, c) is { } partition)
                    {
                        partition.Cursor.Add(d.Record.Offset, d.Record.Offset + 1);
                        partition.SignalSpace();
                        dirty.Add(partition.Partition);
                        succeeded++;
                    }

                    continue;
                }

                // Like an id that is no longer live (Find): a lease past its deadline is expired even before the timer ran.
                if (d.Lease is not { } e || Deleted || !IsTracked(e, out var p) || e.State != EntryState.InFlight
                    || e.Attempt != d.DeliveryAttempt || e.Holder != c || now >= e.Deadline)
                {
                    if (!Deleted && d.Partition < _partitions.Count && !_partitions[d.Partition].Owned)
                    {
                        (elsewhere ??= []).Add(d.AckId);
                    }

                    continue;
                }

                AckEntry(p, e);
                dirty.Add(p.Partition);
                succeeded++;
            }

            if (succeeded > 0 && Settings.Type == SubscriptionType.KeyShared)
            {
                Signal();
            }
        }

        Counters.Acked(succeeded);
        return succeeded;
    }

    // Null when the id does not name a live lease; then isExpired tells expired (that lease ended) from unknown.
    private Entry? Find(AckId id, DateTimeOffset now, out bool isExpired)
    {
        isExpired = false;
        if (Deleted || id.Generation != Generation || (id.Epoch != Epoch && !id.IsPosition)
            || id.Partition >= _partitions.Count)
        {
            return null;
        }

        var p = _partitions[id.Partition];
        if (id.IsPosition)
        {
            // Whichever lease the message has: leased (even past its deadline, the timer not run yet), waiting for
            // redelivery, or nacked with a delay. Being dead-lettered, it is already out of a client's hands.
            if (p.Cursor.IsAcked(id.Offset) || !p.Outstanding.TryGetValue(id.Offset, out var any))
            {
                return null;
            }

            isExpired = any.State is EntryState.DeadLettering or EntryState.Done;
            return isExpired ? null : any;
        }

        if (p.Cursor.IsAcked(id.Offset) || !p.Outstanding.TryGetValue(id.Offset, out var e) || id.Attempt > e.Attempt)
        {
            return null;
        }

        if (id.Attempt < e.Attempt || e.State != EntryState.InFlight || now >= e.Deadline)
        {
            isExpired = true;
            return null;
        }

        return e;
    }

    /// <summary>Appends dead-lettered entries to the dead-letter topic, then acks them; on failure they become ready again.</summary>
    public async Task DeadLetterAsync(List<Entry> entries, string reason, bool rethrow)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var dlq = DeadLetterTopic;
        try
        {
            var info = await _ctx.Log.DescribeTopicAsync(dlq).ConfigureAwait(false);
            if (info is null)
            {
                try
                {
                    info = await _ctx.Log.CreateTopicAsync(dlq, new TopicSettings { Partitions = 1 }).ConfigureAwait(false);
                }
                catch (TopicAlreadyExistsException)
                {
                    info = await _ctx.Log.DescribeTopicAsync(dlq).ConfigureAwait(false) ?? throw new TopicNotFoundException(dlq);
                }
            }

            var count = info.Partitions.Count;
            foreach (var group in entries.GroupBy(e => e.Record.Key is { } k ? Partitioner.ForKey(k.Span, count) : 0))
            {
                var records = group.Select(e => ToDeadLetterRecord(e, reason)).ToList();
                await _ctx.Log.AppendAsync(dlq, group.Key, records).ConfigureAwait(false);
            }

            var dirty = default(PartitionSet);
            lock (_gate)
            {
                foreach (var e in entries)
                {
                    if (e.State == EntryState.DeadLettering && IsTracked(e, out var p))
                    {
                        AckEntry(p, e);
                        dirty.Add(e.Partition);
                    }
                }

                Signal();
            }

            Log.DeadLettered(_ctx.Logger, entries.Count, Topic, Name, dlq, reason);
            Counters.DeadLettered(entries.Count);
            if (!dirty.IsEmpty)
            {
                await _ctx.Writer.CommitAsync(this, dirty).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Log.DeadLetterFailed(_ctx.Logger, entries.Count, Topic, Name, dlq, ex);
            lock (_gate)
            {
                foreach (var e in entries)
                {
                    if (e.State == EntryState.DeadLettering && IsTracked(e, out var p))
                    {
                        e.State = EntryState.Ready;
                        p.Ready.Add(e.Offset);
                    }
                }

                Signal();
            }

            if (rethrow)
            {
                throw;
            }
        }
    }

    private RecordToAppend ToDeadLetterRecord(Entry e, string reason)
    {
        string[] added = ["sluice-dlq-source-topic", "sluice-dlq-subscription", "sluice-dlq-partition", "sluice-dlq-offset", "sluice-dlq-reason", "sluice-dlq-attempts"];
        var headers = e.Record.Headers.Where(h => !added.Contains(h.Key, StringComparer.Ordinal)).ToList();
        headers.Add(new(added[0], Topic.ToString()));
        headers.Add(new(added[1], Name));
        headers.Add(new(added[2], e.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        headers.Add(new(added[3], e.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        headers.Add(new(added[4], reason));
        headers.Add(new(added[5], e.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return new RecordToAppend(e.Record.Key, e.Record.Value, headers);
    }

    private void StartDeadLetter(List<Entry> deadLetters)
    {
        if (deadLetters.Count > 0)
        {
            _ = DeadLetterAsync(deadLetters, "max-deliveries", rethrow: false);
        }
    }

    // ---- seek, delete, state -----------------------------------------------------------------------------------

    /// <summary>Drops every lease and read-ahead, moves the given partitions' cursors, and continues from there.</summary>
    public void Seek(IReadOnlyDictionary<int, long> committed)
    {
        CancellationTokenSource? pumps;
        lock (_gate)
        {
            _source = new DeliverySource(Topic, Generation, unchecked(Epoch + 1));

            _delayed.Clear();
            foreach (var p in _partitions)
            {
                if (committed.TryGetValue(p.Partition, out var offset))
                {
                    p.Cursor.Reset(offset);
                }

                ClearPartition(p);
            }

            // Pumps may be waiting for data beyond the old position: restart them.
            pumps = _pumps;
            _pumps = null;
            if (_consumers.Count > 0)
            {
                _pumps = new CancellationTokenSource();
                foreach (var p in _partitions)
                {
                    StartPump(p, _pumps.Token);
                }
            }

            Signal();
        }

        pumps?.Cancel();
    }

    /// <summary>Marks the subscription deleted and ends its consumers.</summary>
    public void MarkDeleted(ConsumerEndReason reason = ConsumerEndReason.SubscriptionDeleted)
    {
        List<ConsumerState> ended;
        CancellationTokenSource? pumps;
        lock (_gate)
        {
            Deleted = true;
            ended = [.. _consumers.Values];
            foreach (var c in ended)
            {
                c.Registered = false;
            }

            _consumers.Clear();
            _delayed.Clear();
            _sessions.Clear();
            foreach (var p in _partitions)
            {
                ClearPartition(p);
            }

            pumps = _pumps;
            _pumps = null;
            _timer?.Dispose();
            _timer = null;
            Signal();
        }

        pumps?.Cancel();
        StartLeave();
        EndConsumers(ended, reason);
    }

    /// <summary>Stops read-ahead and timers (engine shutdown); consumers are ended.</summary>
    public void Shutdown()
    {
        List<ConsumerState> ended;
        CancellationTokenSource? pumps;
        lock (_gate)
        {
            ended = [.. _consumers.Values];
            pumps = _pumps;
            _pumps = null;
            _timer?.Dispose();
            _timer = null;
        }

        pumps?.Cancel();
        EndConsumers(ended, ConsumerEndReason.EngineStopped);
    }

    /// <summary>
    /// Ends <paramref name="ended"/>, then wakes every parked receive: a waiting receive holds no registration on its
    /// consumer's end (one per idle stream adds up), so the wake is how it learns. The others look, find nothing and park
    /// again; ends are rare. A receive that parks after this sees the end under the lock (AfterTake) and does not sleep.
    /// </summary>
    private void EndConsumers(List<ConsumerState> ended, ConsumerEndReason reason)
    {
        if (ended.Count == 0)
        {
            return;
        }

        foreach (var c in ended)
        {
            c.End(reason);
        }

        lock (_gate)
        {
            while (WakeFirst())
            {
            }
        }
    }

    public bool TryEncodeCursor(int partition, out byte[] key, out byte[] value)
    {
        key = StateTopics.Key(StateTopics.CursorKey(Topic, Name, partition));
        lock (_gate)
        {
            // In a fleet only the owner writes a partition's cursor (a revoked partition's last write is RevokeAsync's).
            if (Deleted || partition >= _partitions.Count || !_partitions[partition].Owned)
            {
                value = [];
                return false;
            }

            value = _partitions[partition].Cursor.Encode(Generation);
            return true;
        }
    }

    public SubscriptionInfo Info(IReadOnlyList<PartitionInfo>? logPartitions)
    {
        lock (_gate)
        {
            var partitions = new List<PartitionCursorInfo>(_partitions.Count);
            long backlog = 0;
            foreach (var p in _partitions)
            {
                var end = logPartitions?.FirstOrDefault(x => x.Partition == p.Partition)?.EndOffset ?? p.ReadPosition;
                var lag = Math.Max(0, end - p.Cursor.Committed);
                backlog += lag;
                partitions.Add(new PartitionCursorInfo(p.Partition, p.Cursor.Committed, end, lag, p.Skipped?.ToList(), p.StoppedAt));
            }

            var active = Settings.Type is SubscriptionType.Failover or SubscriptionType.Exclusive ? ActiveConsumer() : null;
            var consumers = _consumers.Values
                .OrderBy(c => c.Order)
                .Select(c => new ConsumerInfo(c.Id, active is null || active == c, c.InFlight, c.LastSeen))
                .ToList();
            var filteredOut = 0L;

            // Held deliveries count while their partition does (a seek drops them from the count, as it ends leases).
            var held = 0;
            foreach (var p in _partitions)
            {
                filteredOut += p.FilteredOut;
                held += p.Held;
            }

            return new SubscriptionInfo(Topic, Name, Settings, partitions, backlog, _leases.Count + held, consumers) { FilteredOut = filteredOut };
        }
    }

    // ---- internals (all under _gate) ---------------------------------------------------------------------------

    private Delivery Lease(Entry e, ConsumerState c, DateTimeOffset now)
    {
        e.Attempt++;
        e.State = EntryState.InFlight;
        e.Holder = c;
        c.InFlight++;
        e.Deadline = now + Settings.AckDeadline;
        _leases.AddLast(e);
        return new Delivery(_source, e.Partition, e.Record, e.Attempt, e);
    }

    // A first delivery without an entry: its record leaves the read-ahead and is counted against the partition's unacked
    // bound until the holder acks or returns it (or a clear makes it stale).
    private Delivery Hold(PartitionState p, StoredRecord record, ConsumerState c)
    {
        p.Held++;
        c.InFlight++;
        return new Delivery(_source, p.Partition, record, c, p.FetchEpoch);
    }

    // Settles a held delivery of c's once. Its partition when that still counts it (no clear since it was taken), so the
    // caller applies the ack or the return; null when it was settled before, is not c's, or went stale.
    private PartitionState? Unhold(Delivery d, ConsumerState c)
    {
        if (d.HeldBy != c || d.HeldSettled)
        {
            return null;
        }

        d.HeldSettled = true;
        c.InFlight--;
        var p = d.Partition < _partitions.Count ? _partitions[d.Partition] : null;
        if (Deleted || p is null || p.FetchEpoch != d.HeldEpoch)
        {
            return null;
        }

        p.Held--;
        return p;
    }

    // An entry joins the partition's outstanding table (and its key's offsets, for key_shared ordering).
    private static void Track(PartitionState p, Entry e)
    {
        p.Outstanding.Add(e.Offset, e);
        TrackKey(p, e);
    }

    private static void TrackKey(PartitionState p, Entry e)
    {
        if (e.KeyId is not null)
        {
            if (!p.KeyOutstanding.TryGetValue(e.KeyId, out var offsets))
            {
                p.KeyOutstanding[e.KeyId] = offsets = [];
            }

            offsets.Add(e.Offset);
        }
    }

    // The key as key_shared bookkeeping names it. Only key_shared subscriptions name keys (a string per record and
    // subscription, and a set of outstanding offsets per key); the others deliver without looking at them.
    private static string? KeyIdOf(StoredRecord r) => r.Key is { } k ? Convert.ToBase64String(k.Span) : null;

    // Under _gate. The key a record's entry or read-ahead slot carries on this subscription: named on key_shared only.
    private string? KeyIdFor(StoredRecord r) => Settings.Type == SubscriptionType.KeyShared ? KeyIdOf(r) : null;

    // False for an entry dropped by a seek or by a cursor reset while work on it ran outside the lock.
    private bool IsTracked(Entry e, out PartitionState p)
    {
        // An entry of another subscription (a delivery handed to the wrong consumer) may name a partition this one lacks.
        p = e.Partition < _partitions.Count ? _partitions[e.Partition] : null!;
        return p is not null && p.Outstanding.TryGetValue(e.Offset, out var current) && current == e;
    }

    // Drops a partition's delivery state, its entries' leases included (off the lease list, out of their holders' counts).
    private void ClearPartition(PartitionState p)
    {
        foreach (var e in p.Outstanding.Values)
        {
            Unlease(e);
        }

        p.ClearDelivery();
    }

    private void Unlease(Entry e)
    {
        _leases.Remove(e);

        if (e.Holder is { } holder)
        {
            holder.InFlight--;
            e.Holder = null;
        }
    }

    // A delivered message comes back (nack, deadline, release): ready again, delayed, or dead-lettered at the limit.
    private void Return(PartitionState p, Entry e, TimeSpan delay, DateTimeOffset now, List<Entry> deadLetters)
    {
        Unlease(e);
        if (Settings.MaxDeliveries > 0 && e.Attempt >= Settings.MaxDeliveries)
        {
            e.State = EntryState.DeadLettering;
            deadLetters.Add(e);
        }
        else if (delay <= TimeSpan.Zero)
        {
            e.State = EntryState.Ready;
            p.Ready.Add(e.Offset);
        }
        else
        {
            e.State = EntryState.Delayed;
            e.AvailableAt = now + delay;
            _delayed.Enqueue(e, e.AvailableAt);
        }
    }

    private void AckEntry(PartitionState p, Entry e)
    {
        Unlease(e);
        if (e.State == EntryState.Ready)
        {
            p.Ready.Remove(e.Offset);
        }

        e.State = EntryState.Done;
        p.Outstanding.Remove(e.Offset);
        if (e.KeyId is not null && p.KeyOutstanding.TryGetValue(e.KeyId, out var offsets))
        {
            offsets.Remove(e.Offset);
            if (offsets.Count == 0)
            {
                p.KeyOutstanding.Remove(e.KeyId);
            }
        }

        p.Cursor.Add(e.Offset, e.Offset + 1);
        p.SignalSpace();
    }

    private void ReleaseLocked(ConsumerState c, DateTimeOffset now, List<Entry> deadLetters)
    {
        var held = _leases.HeldBy(c);
        foreach (var e in held)
        {
            Return(_partitions[e.Partition], e, TimeSpan.Zero, now, deadLetters);
        }
    }

    private ConsumerState? ActiveConsumer()
    {
        ConsumerState? active = null;
        foreach (var c in _consumers.Values)
        {
            if (active is null || c.Order < active.Order)
            {
                active = c;
            }
        }

        return active;
    }

    // Rendezvous hashing: the live consumer with the highest hash(key, consumer) owns the key, so when consumers come
    // and go only the keys of the consumer that changed move.
    private static ConsumerState? Assigned(ConsumerState[] live, string keyId)
    {
        ConsumerState? best = null;
        ulong bestScore = 0;
        var keyHash = Fnv1a(keyId, 14695981039346656037UL);
        foreach (var c in live)
        {
            var score = Mix(Fnv1a(c.Id, keyHash));
            if (best is null || score > bestScore || (score == bestScore && string.CompareOrdinal(c.Id, best.Id) < 0))
            {
                best = c;
                bestScore = score;
            }
        }

        return best;
    }

    private static ulong Fnv1a(string s, ulong hash)
    {
        foreach (var ch in s)
        {
            hash = (hash ^ ch) * 1099511628211UL;
        }

        return hash;
    }

    // splitmix64 finaliser: FNV alone clusters on similar ids ("c1", "c2").
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }

    // A redelivery of key K waits while an earlier message of K is outstanding or any message of K is in flight.
    private static bool KeyHasEarlierOrInFlight(PartitionState p, Entry e)
    {
        var offsets = p.KeyOutstanding[e.KeyId!];
        if (offsets.Min != e.Offset)
        {
            return true;
        }

        foreach (var o in offsets)
        {
            if (p.Outstanding[o].State == EntryState.InFlight)
            {
                return true;
            }
        }

        return false;
    }

    // ---- wake-ups (all under _gate) --------------------------------------------------------------------------------

    // Shared and exclusive: any waiting receive can take any message, so a change wakes the longest-waiting one, and a
    // receive that leaves messages behind wakes the next (see AfterTake): one wake-up per receive that gets something,
    // however many connections wait. Key_shared and failover decide per consumer who may take what, and a deleted
    // subscription ends every receive: those wake everyone.
    private bool WakesOne => !Deleted && Settings.Type is SubscriptionType.Shared or SubscriptionType.Exclusive;

    private void Signal()
    {
        _signals++;
        if (WakesOne)
        {
            WakeFirst();
            return;
        }

        while (WakeFirst())
        {
        }
    }

    private bool WakeFirst()
    {
        if (_waiters.First is not { } first)
        {
            return false;
        }

        Unpark(first.Value);
        first.Value.Wake();
        Counters.Woken();
        return true;
    }

    private void Park(ReceiveWaiter waiter)
    {
        _waiters.AddLast(waiter.Node);
        Counters.Waiting(1);
    }

    private void Unpark(ReceiveWaiter waiter)
    {
        _waiters.Remove(waiter.Node);
        Counters.Waiting(-1);
    }

    private void PassWakeOn()
    {
        if (WakesOne && HasDeliverable())
        {
            WakeFirst();
        }
    }

    private bool HasDeliverable()
    {
        foreach (var p in _partitions)
        {
            if (p.Ready.Count > 0 || p.Buffer.Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    // Parks the waiter when the take found nothing and nothing changed since; passes the wake on when messages remain.
    private Task? AfterTake(ConsumerState c, int taken, ReceiveWaiter? waiter, long seen)
    {
        var woken = waiter is { Woken: true };
        if (waiter is not null)
        {
            waiter.Woken = false;
        }

        if (taken > 0)
        {
            if (waiter is { Parked: true })
            {
                Unpark(waiter);
            }

            PassWakeOn();
            return Task.CompletedTask;
        }

        if (waiter is null)
        {
            return Task.CompletedTask;
        }

        if (Deleted || !c.Registered || c.Ended.IsCancellationRequested)
        {
            // This receive can take nothing any more (its consumer is ended): never park it, and hand on a wake it got.
            if (woken)
            {
                PassWakeOn();
            }

            return Task.Delay(Timeout.Infinite, c.Ended.Token);
        }

        if (seen != _signals)
        {
            // Something changed between the take and now: look again rather than sleep through it.
            if (waiter.Parked)
            {
                Unpark(waiter);
            }

            return Task.CompletedTask;
        }

        if (!waiter.Parked)
        {
            Park(waiter);
        }

        waiter.Arm();
        return null;
    }

    private void ArmTimer()
    {
        var due = DateTimeOffset.MaxValue;
        if (_leases.First is { } first)
        {
            due = first.Deadline;
        }

        if (_delayed.TryPeek(out _, out var delayedDue) && delayedDue < due)
        {
            due = delayedDue;
        }

        if (_sessions.TryPeek(out _, out var sessionDue) && sessionDue < due)
        {
            due = sessionDue;
        }

        if (due == DateTimeOffset.MaxValue || due >= _timerDue || Deleted)
        {
            return;
        }

        _timerDue = due;
        _timer ??= _ctx.Time.CreateTimer(static s => ((Subscription)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var dueIn = due - Now;
        _timer.Change(dueIn < TimeSpan.Zero ? TimeSpan.Zero : dueIn, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer()
    {
        try
        {
            List<Entry> deadLetters = [];
            List<ConsumerState> expired = [];
            CancellationTokenSource? pumps = null;
            lock (_gate)
            {
                _timerDue = DateTimeOffset.MaxValue;
                if (Deleted)
                {
                    return;
                }

                var now = Now;
                var changed = false;
                var leasesExpired = 0;
                while (_leases.First is { } e && e.Deadline <= now)
                {
                    Return(_partitions[e.Partition], e, TimeSpan.Zero, now, deadLetters);
                    leasesExpired++;
                    changed = true;
                }

                Counters.LeasesExpired(leasesExpired);

                while (_delayed.TryPeek(out var e, out var due) && due <= now)
                {
                    _delayed.Dequeue();
                    if (e.State == EntryState.Delayed && e.AvailableAt == due && IsTracked(e, out var p))
                    {
                        e.State = EntryState.Ready;
                        p.Ready.Add(e.Offset);
                        changed = true;
                    }
                }

                while (_sessions.TryPeek(out var c, out var due) && due <= now)
                {
                    _sessions.Dequeue();
                    c.SessionQueued = false;
                    if (!c.Registered || c.Handles > 0)
                    {
                        // Attached again: the next detach queues a new check.
                        continue;
                    }

                    var expiresAt = c.LastSeen + _ctx.Options.ConsumerSessionTimeout;
                    if (expiresAt > now)
                    {
                        c.SessionQueued = true;
                        _sessions.Enqueue(c, expiresAt);
                    }
                    else
                    {
                        c.Registered = false;
                        _consumers.Remove(c.Id);
                        ReleaseLocked(c, now, deadLetters);
                        expired.Add(c);
                        changed = true;
                    }
                }

                if (_consumers.Count == 0 && _pumps is not null)
                {
                    pumps = _pumps;
                    _pumps = null;
                }

                if (changed)
                {
                    Signal();
                }

                ArmTimer();
            }

            pumps?.Cancel();
            if (pumps is not null)
            {
                // The last consumer is gone: a fleet member leaves the subscription's group so others take its partitions.
                StartLeave();
            }

            foreach (var c in expired)
            {
                Log.ConsumerExpired(_ctx.Logger, c.Id, Topic, Name);
            }

            EndConsumers(expired, ConsumerEndReason.SessionExpired);

            StartDeadLetter(deadLetters);
        }
        catch (Exception ex)
        {
            Log.TimerFailed(_ctx.Logger, Topic, Name, ex);
        }
    }

    // ---- read-ahead ----------------------------------------------------------------------------------------------

    // 1 s: long enough not to spin on a failing backend, short enough that consumers barely notice a hiccup.
    private static readonly TimeSpan ReadRetryDelay = TimeSpan.FromSeconds(1);

    // Under _gate. A partition owned by another instance of a fleet has no read-ahead here.
    private void StartPump(PartitionState p, CancellationToken subscriptionToken)
    {
        if (!p.Owned)
        {
            return;
        }

        p.Pump?.Cancel();
        var pump = CancellationTokenSource.CreateLinkedTokenSource(subscriptionToken);
        p.Pump = pump;
        _ = Task.Run(() => PumpAsync(p, subscriptionToken, pump.Token), CancellationToken.None);
    }

    private async Task PumpAsync(PartitionState p, CancellationToken subscriptionToken, CancellationToken cancellationToken)
    {
        var options = _ctx.Options;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                long from;
                int epoch;
                int room;
                Task? space = null;
                lock (_gate)
                {
                    if (Deleted)
                    {
                        return;
                    }

                    // Refilled once half empty, not after every take: one read brings many records.
                    room = options.ReadAheadMessages - p.Buffer.Count;
                    if (!p.HasRoom(options))
                    {
                        p.SpaceWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        space = p.SpaceWaiter.Task;
                    }

                    from = p.ReadPosition;
                    epoch = p.FetchEpoch;
                }

                if (space is not null)
                {
                    await space.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                ReadResult read;
                try
                {
                    read = await _ctx.Log.ReadAsync(Topic, p.Partition, from, room, options.ReadAheadBytes, cancellationToken).ConfigureAwait(false);
                }
                catch (OffsetOutOfRangeException ex)
                {
                    OnOutOfRange(p, epoch, from, ex);
                    continue;
                }
                catch (CorruptRecordsException ex)
                {
                    if (!OnCorrupt(p, epoch, from, ex))
                    {
                        // Stopped by the operator's choice: until a seek (which restarts the pumps) or the end of the subscription.
                        await Task.Delay(Timeout.InfiniteTimeSpan, _ctx.Time, cancellationToken).ConfigureAwait(false);
                    }

                    continue;
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or TopicNotFoundException))
                {
                    // A backend hiccup: retry after a pause rather than leave the partition unread.
                    Log.ReadAheadFailed(_ctx.Logger, Topic, Name, p.Partition, ex);
                    await Task.Delay(ReadRetryDelay, _ctx.Time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var filtered = 0;
                lock (_gate)
                {
                    if (epoch != p.FetchEpoch || Deleted)
                    {
                        continue;
                    }

                    if (AddFetched(p, read, out filtered) > 0)
                    {
                        Signal();
                    }
                }

                OnFilteredOut(p, filtered);

                if (read.NextOffset >= read.EndOffset)
                {
                    await _ctx.Log.WaitForDataAsync(Topic, p.Partition, read.NextOffset, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Every partition's pump stops (the waiting ones too), so the next attach starts a complete new set
            // (the topic may have been recreated) and never a second pump for a partition.
            if (ex is TopicNotFoundException)
            {
                Log.TopicGone(_ctx.Logger, Topic, Name, p.Partition);
            }
            else
            {
                Log.ReadAheadFailed(_ctx.Logger, Topic, Name, p.Partition, ex);
            }

            CancellationTokenSource? pumps = null;
            lock (_gate)
            {
                if (_pumps is { } current && current.Token == subscriptionToken)
                {
                    pumps = current;
                    _pumps = null;
                }
            }

            pumps?.Cancel();
        }
    }

    // Under _gate. Remembers the log's end a read saw; it only grows: a read that finished late does not take it back.
    private static void SeeLogEnd(PartitionState p, ReadResult read)
        => p.LogEnd = p.LogEnd == long.MaxValue ? read.EndOffset : Math.Max(p.LogEnd, read.EndOffset);

    // Under _gate. Buffers the records to deliver and returns how many; the rest count as acked: offsets removed by
    // compaction or retention (nothing to deliver) and records the filter does not match (counted in filtered). Runs of
    // such offsets go to the cursor as one range each, so a selective filter costs one cursor update per run.
    private int AddFetched(PartitionState p, ReadResult read, out int filtered)
    {
        filtered = 0;
        SeeLogEnd(p, read);
        if (read.NextOffset <= p.ReadPosition)
        {
            // A concurrent read (pump or inline fill) already got this far.
            return 0;
        }

        var filter = Settings.Filter;
        var buffered = 0;
        var expected = p.ReadPosition;
        var skipFrom = -1L;
        for (var i = 0; i < read.Records.Count; i++) // indexed: a foreach over the interface boxes its enumerator
        {
            var r = read.Records[i];
            if (r.Offset < expected)
            {
                continue;
            }

            // Offsets below r.Offset that the read did not return were removed: they join the run of skipped offsets.
            if (r.Offset > expected && skipFrom < 0)
            {
                skipFrom = expected;
            }

            expected = r.Offset + 1;
            if (p.Cursor.IsAcked(r.Offset))
            {
                // Acked before (below the committed offset of a reload, or an acked range): never delivered again.
                skipFrom = skipFrom < 0 ? r.Offset : skipFrom;
                continue;
            }

            if (filter is not null && !filter.Matches(r))
            {
                filtered++;
                skipFrom = skipFrom < 0 ? r.Offset : skipFrom;
                continue;
            }

            if (skipFrom >= 0)
            {
                p.Cursor.Add(skipFrom, r.Offset);
                skipFrom = -1;
            }

            p.Buffer.AddLast(new Buffered(r, KeyIdFor(r)));
            buffered++;
        }

        if (read.NextOffset > expected)
        {
            skipFrom = skipFrom < 0 ? expected : skipFrom;
            expected = read.NextOffset;
        }

        if (skipFrom >= 0)
        {
            p.Cursor.Add(skipFrom, expected);
        }

        p.ReadPosition = expected;
        if (filtered > 0)
        {
            p.FilteredOut += filtered;
        }

        return buffered;
    }

    // Outside _gate. Filtered messages are acked only in memory so far: their cursor goes out with the next cursor write
    // (within CursorLinger), like an auto-ack's. Without this a subscription whose filter matches nothing would never
    // write its cursor, and a restart would read (and filter) everything again.
    private void OnFilteredOut(PartitionState p, int filtered)
    {
        if (filtered > 0)
        {
            _ctx.Writer.CommitLater(this, PartitionSet.One(p.Partition));
            Counters.FilteredOut(filtered);
        }
    }

    private void OnOutOfRange(PartitionState p, int epoch, long from, OffsetOutOfRangeException ex)
    {
        lock (_gate)
        {
            if (epoch != p.FetchEpoch)
            {
                return;
            }

            if (from < ex.StartOffset)
            {
                Log.RetentionSkipped(_ctx.Logger, Topic, Name, p.Partition, from, ex.StartOffset);
                p.Cursor.Add(p.Cursor.Committed, ex.StartOffset);

                // Not back: an inline read (FillAsync) may have buffered past the new start meanwhile.
                p.ReadPosition = Math.Max(p.ReadPosition, ex.StartOffset);
            }
            else
            {
                // The cursor is beyond the partition's end (the topic was deleted and recreated): start over at its end.
                Log.CursorBeyondEnd(_ctx.Logger, Topic, Name, p.Partition, from, ex.EndOffset);
                p.Cursor.Reset(ex.EndOffset);
                ClearPartition(p);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.DeadLettered, LogLevel.Information, "Dead-lettered {Count} messages of subscription '{Name}' on '{Topic}' to '{DeadLetterTopic}' ({Reason})")]
        public static partial void DeadLettered(ILogger logger, int count, TopicName topic, string name, TopicName deadLetterTopic, string reason);

        [LoggerMessage(CoreEventIds.DeadLetterFailed, LogLevel.Error, "Dead-lettering {Count} messages of subscription '{Name}' on '{Topic}' to '{DeadLetterTopic}' failed; they will be redelivered")]
        public static partial void DeadLetterFailed(ILogger logger, int count, TopicName topic, string name, TopicName deadLetterTopic, Exception exception);

        [LoggerMessage(CoreEventIds.ConsumerExpired, LogLevel.Debug, "Consumer '{ConsumerId}' of subscription '{Name}' on '{Topic}' expired; its unacked messages are redelivered")]
        public static partial void ConsumerExpired(ILogger logger, string consumerId, TopicName topic, string name);

        [LoggerMessage(CoreEventIds.TimerFailed, LogLevel.Error, "Timer of subscription '{Name}' on '{Topic}' failed")]
        public static partial void TimerFailed(ILogger logger, TopicName topic, string name, Exception exception);

        [LoggerMessage(CoreEventIds.TopicGone, LogLevel.Warning, "Topic '{Topic}' of subscription '{Name}' is gone; read-ahead of partition {Partition} stopped")]
        public static partial void TopicGone(ILogger logger, TopicName topic, string name, int partition);

        [LoggerMessage(CoreEventIds.ReadAheadFailed, LogLevel.Error, "Read-ahead of subscription '{Name}' on '{Topic}' partition {Partition} failed")]
        public static partial void ReadAheadFailed(ILogger logger, TopicName topic, string name, int partition, Exception exception);

        [LoggerMessage(CoreEventIds.RetentionSkipped, LogLevel.Warning, "Subscription '{Name}' on '{Topic}' partition {Partition}: offsets {From}..{To} were removed by retention before they were acked; skipped")]
        public static partial void RetentionSkipped(ILogger logger, TopicName topic, string name, int partition, long from, long to);

        [LoggerMessage(CoreEventIds.CursorBeyondEnd, LogLevel.Warning, "Subscription '{Name}' on '{Topic}' partition {Partition}: cursor {Offset} is beyond the end {End}; continuing at the end")]
        public static partial void CursorBeyondEnd(ILogger logger, TopicName topic, string name, int partition, long offset, long end);
    }
}
