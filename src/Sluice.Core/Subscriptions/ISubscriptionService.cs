using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The delivery engine: durable subscriptions (cursors and ack state), leases with ack deadlines,
/// redelivery, dead-lettering. Every consumption path (long-poll pull, SSE, WebSocket, webhooks)
/// goes through <see cref="OpenConsumerAsync"/>; there is no second engine.
/// </summary>
/// <remarks>
/// Durable: settings and cursors (committed offset plus acked ranges above it) live in the internal compacted topics
/// <c>__sluice/system/subscriptions</c> and <c>__sluice/system/cursors</c>. Not durable: leases and delivery attempts.
/// After a restart nothing acked is redelivered and every unacked message is delivered again with its attempt count
/// restarted at 1; ack ids issued before the restart are then unknown.
/// </remarks>
public interface ISubscriptionService
{
    /// <summary>Creates the subscription or updates its settings (type change only while no consumer is connected).</summary>
    ValueTask<SubscriptionInfo> CreateOrUpdateAsync(TopicName topic, string name, SubscriptionSettings settings, CancellationToken cancellationToken = default);

    /// <summary>The subscription's state, or null when it does not exist.</summary>
    ValueTask<SubscriptionInfo?> GetAsync(TopicName topic, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// The subscription's settings, or null when it does not exist. What a stream needs for each connection it opens:
    /// unlike <see cref="GetAsync"/> it does not list the consumers (thousands, on one subscription of many streams).
    /// </summary>
    ValueTask<SubscriptionSettings?> GetSettingsAsync(TopicName topic, string name, CancellationToken cancellationToken = default);

    /// <summary>Names of the topic's subscriptions.</summary>
    ValueTask<IReadOnlyList<string>> ListAsync(TopicName topic, CancellationToken cancellationToken = default);

    /// <summary>Deletes the subscription and its cursors; connected consumers are ended.</summary>
    ValueTask<bool> DeleteAsync(TopicName topic, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes every subscription of <paramref name="topic"/>, ending their consumers with
    /// <see cref="ConsumerEndReason.TopicDeleted"/>: what a topic delete calls before the log deletes the data (and again
    /// after, for subscriptions a consumer loop created meanwhile). Returns how many were deleted.
    /// </summary>
    /// <remarks>Added after the first contract; the default implementation deletes them one by one (ending consumers
    /// with <see cref="ConsumerEndReason.SubscriptionDeleted"/>).</remarks>
    async ValueTask<int> DeleteForTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        foreach (var name in await ListAsync(topic, cancellationToken).ConfigureAwait(false))
        {
            deleted += await DeleteAsync(topic, name, cancellationToken).ConfigureAwait(false) ? 1 : 0;
        }

        return deleted;
    }

    /// <summary>
    /// Attaches a consumer. The subscription is created with default settings when absent. Throws
    /// <see cref="SubscriptionBusyException"/> when an exclusive subscription already has another consumer.
    /// Reopening with a consumer id that is already attached joins that consumer (a client that pulls
    /// repeatedly keeps one identity). Disposing the consumer detaches it; its unacked messages keep
    /// their deadlines and are redelivered to others when those pass.
    /// </summary>
    ValueTask<ISubscriptionConsumer> OpenConsumerAsync(TopicName topic, string name, string consumerId, CancellationToken cancellationToken = default);

    /// <summary>Acks messages by ack id. Unknown (never issued, already acked) and expired (deadline passed) ids are returned, not dropped.</summary>
    /// <remarks>
    /// Completes only after the advanced cursor is durable. An expired id is NOT applied: its lease ended (deadline
    /// passed, nacked, or released) and the message will be or was delivered again under a new id. Unknown also covers
    /// malformed ids and ids issued before a seek, a restart, or a delete and recreate of the subscription.
    /// Throws <see cref="SubscriptionNotFoundException"/> when the subscription does not exist. Ids given as an
    /// <see cref="AckIdList"/> are used as parsed there (so are a nack's).
    /// </remarks>
    ValueTask<AckResult> AckAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Acks messages by their position (partition, offset) instead of by ack id: for clients that know only where a
    /// message is, such as Kafka-Pixy's. Whatever lease the message has is acked: in flight with any consumer (any
    /// attempt, even just past its deadline), or waiting for redelivery. As <see cref="AckAsync"/>: completes once
    /// durable, and positions of partitions another fleet member delivers are forwarded to it. A position that is not
    /// outstanding (already acked, never delivered, or delivered before a restart or seek) is returned in
    /// <see cref="AckResult.Unknown"/>, as its position id text.
    /// </summary>
    /// <remarks>Added after the first contract; the default implementation throws <see cref="NotSupportedException"/>.</remarks>
    ValueTask<AckResult> AckPositionsAsync(TopicName topic, string name, IReadOnlyList<MessagePosition> positions, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("this subscription service does not ack by position");

    /// <summary>Returns messages for redelivery after <paramref name="delay"/> (zero: at once).</summary>
    /// <remarks>
    /// The next delivery has attempt + 1. A message already delivered <see cref="SubscriptionSettings.MaxDeliveries"/>
    /// times goes to the dead-letter topic instead. Ids are classified as in <see cref="AckAsync"/>.
    /// </remarks>
    ValueTask<AckResult> NackAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, TimeSpan delay, CancellationToken cancellationToken = default);

    /// <summary>Moves the cursor; in-flight leases are dropped and connected consumers continue from there.</summary>
    ValueTask SeekAsync(TopicName topic, string name, StartPosition position, CancellationToken cancellationToken = default);

    /// <summary>Writes all cursor state durably (called on graceful shutdown).</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends in-flight messages straight to the subscription's dead-letter topic (for example a webhook answered 4xx),
    /// with <c>sluice-dlq-reason</c> = <paramref name="reason"/>, then acks them. Completes once both are durable.
    /// Ids are classified as in <see cref="AckAsync"/>: unknown and expired ids are returned and nothing is done for them.
    /// </summary>
    /// <remarks>Added after the first contract; the default implementation throws <see cref="NotSupportedException"/>.</remarks>
    ValueTask<AckResult> DeadLetterAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, string reason, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("this subscription service does not dead-letter on request");

    /// <summary>
    /// Adds the message counts of every subscription loaded here to <paramref name="into"/>: what a metrics exporter
    /// reads at collection time, so counting costs the delivery path no tagged instrument call. Synchronous and cheap
    /// (no I/O, no subscription lock).
    /// </summary>
    /// <remarks>Added after the first contract; the default implementation adds nothing.</remarks>
    void CollectCounts(ICollection<SubscriptionCounts> into)
    {
    }
}

/// <summary>One attached consumer of a subscription.</summary>
/// <remarks>
/// <para>The contract of a consuming loop (pull, SSE, WebSocket, webhooks, replicators: anything that calls
/// <see cref="ReceiveAsync"/> again and again):</para>
/// <code>
///   open ──► ReceiveAsync ──┬─ messages ───────────────► handle them, receive again
///                           ├─ empty (the wait ended) ─► receive again (the wait itself is the pause)
///                           └─ ConsumerEndedException ─► dispose this consumer, then by Reason:
///                                SubscriptionDeleted: a stream ends; a background loop waits, then opens again
///                                  (OpenConsumerAsync throws TopicNotFoundException while the topic is gone:
///                                  back off and retry; it creates the subscription again when only that was deleted)
///                                EngineStopped: stop   SessionExpired: open again if still wanted
/// </code>
/// <para>An ended consumer never receives again, and <see cref="ReceiveAsync"/> never answers it with an empty list
/// (which a loop would call again at once, spinning a core): it throws <see cref="ConsumerEndedException"/>, at once
/// or as soon as the consumer ends during the wait. <see cref="Ended"/> is cancelled at the same moment, with its
/// callbacks on the thread pool: never inside the engine call (a delete) that ended the consumer, so a callback may
/// call the engine. A loop that waits between retries waits on the injected clock and its own stop token.</para>
/// <para><see cref="IInterruptible.Interrupt"/> ends this handle's <see cref="Poll"/> wait as if it were over: the next
/// call answers "interrupted" (a null wait) unless messages are ready; with no wait pending, the next call answers so at
/// its first empty look.</para>
/// </remarks>
public interface ISubscriptionConsumer : IAsyncDisposable, IInterruptible
{
    string ConsumerId { get; }

    /// <summary>
    /// Waits up to <paramref name="wait"/> for at least one message this consumer may take, then returns
    /// up to <paramref name="max"/> of them, each leased until its ack deadline. Returns an empty list
    /// when the wait ends with nothing (at once when <paramref name="wait"/> is zero). A failover standby waits
    /// without receiving. Throws <see cref="ConsumerEndedException"/> once the consumer is ended (see
    /// <see cref="Ended"/>), never an empty list; <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> is cancelled; <see cref="ObjectDisposedException"/> once disposed.
    /// Messages already leased when the consumer ends are returned first: the next call throws.
    /// </summary>
    ValueTask<IReadOnlyList<Delivery>> ReceiveAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default);

    /// <summary>
    /// A stream's receive, for one caller that loops on this handle (not beside another Poll or a waiting
    /// <see cref="ReceiveAsync"/> on it): takes up to <paramref name="max"/> messages that are ready (leased like
    /// <see cref="ReceiveAsync"/>'s). When there are none it returns an empty list and <paramref name="wait"/>, to
    /// await before calling again (it ends at the next change, an <see cref="IInterruptible.Interrupt"/> or the consumer's end, which
    /// it may report as a cancellation); <paramref name="wait"/> is null when the handle was interrupted (and when
    /// messages were taken). The caller awaits the handle's own waiter directly, so a stream that idles keeps no frame
    /// of the engine's alive, only its own. The log is read on the first call and after every interrupt, as a receive
    /// reads it on its first look; <paramref name="cancellationToken"/> cuts that read short. Throws
    /// <see cref="ConsumerEndedException"/> once the consumer is ended.
    /// </summary>
    IReadOnlyList<Delivery> Poll(int max, out ValueTask? wait, CancellationToken cancellationToken = default);


    /// <summary>
    /// Takes up to <paramref name="max"/> messages that are ready for this consumer now, leased like
    /// <see cref="ReceiveAsync"/>'s, without reading the log or waiting: what a pushing consumer calls to keep a slot
    /// that just came free busy. Empty when nothing is buffered, or the consumer is disposed or ended.
    /// </summary>
    IReadOnlyList<Delivery> TakeReady(int max);

    /// <summary>
    /// Returns every message this consumer holds unacked to the subscription for redelivery at once
    /// (a streaming connection closed or was cut as a slow consumer), and what this handle holds after
    /// <see cref="HoldNewMessages"/>. A pull consumer does not call it: its client may still ack in a later request.
    /// </summary>
    ValueTask ReleaseInFlightAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// For a stream that acks what it has written (<c>ack=auto</c>), called before its first take: from now on this
    /// handle takes new messages held rather than leased. A held message has no entry, lease or ack deadline; it stays
    /// out of every other consumer's reach until this handle acks it (<see cref="AckAsync"/>, once written) or returns
    /// it (<see cref="ReturnAsync"/>, <see cref="ReleaseInFlightAsync"/>, or disposing the handle, which returns for
    /// redelivery at once whatever it still holds): what bounds its time out of reach is the stream's own life (its
    /// slow-consumer timeout), not an ack deadline. A seek or a partition's reassignment meanwhile makes it stale: its
    /// ack is not applied and its return is dropped, as a lease's would be. Redeliveries and key_shared subscriptions
    /// are still leased. The handle must then have one caller at a time (a stream's loop), as <see cref="Poll"/> does.
    /// </summary>
    void HoldNewMessages();

    /// <summary>
    /// Returns deliveries this handle took and did not ack, for redelivery at once (a stream that ended before writing
    /// them): held ones go back as they are, leased ones are nacked with no delay (by id, as
    /// <see cref="ISubscriptionService.NackAsync"/>). Either counts as a delivery attempt.
    /// </summary>
    ValueTask ReturnAsync(IReadOnlyList<Delivery> deliveries, CancellationToken cancellationToken = default);

    /// <summary>
    /// Acks deliveries this consumer received, by the leases themselves (no ids to parse): what a streaming connection
    /// in auto-ack mode calls once it has written them. With <paramref name="waitDurable"/> it completes once the cursor
    /// is durable, as <see cref="ISubscriptionService.AckAsync"/> does; without, it completes once applied in memory and
    /// the cursor goes out with the next cursor write (within <see cref="DeliveryOptions.CursorLinger"/>): a crash
    /// before that delivers them again, which at-least-once allows. Leases that ended meanwhile are not applied, nor are
    /// held deliveries (<see cref="HoldNewMessages"/>) already acked or returned, or made stale. Returns how many were acked.
    /// </summary>
    ValueTask<int> AckAsync(IReadOnlyList<Delivery> deliveries, bool waitDurable, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancelled when the consumer is ended by the server: subscription deleted (alone or with its topic), engine shut
    /// down, or its session expired (<see cref="ConsumerEndedException.Reason"/> says which). Its callbacks run on the
    /// thread pool, never inside the engine call that ended the consumer. A seek does not end consumers: they continue
    /// from the new position.
    /// </summary>
    CancellationToken Ended { get; }
}

/// <summary>A leased message: ack it by <see cref="AckId"/>; <see cref="DeliveryAttempt"/> starts at 1.</summary>
/// <remarks>
/// One is made per message and consumer, so a fan-out makes one per event and stream: the fields are what differs
/// between deliveries. What every delivery of a subscription epoch shares (topic, generation, epoch) is one
/// <see cref="DeliverySource"/>, the offset is the record's, and a lease's entry and a held delivery's holder share a
/// field: 72 bytes where copying them all took 128.
/// </remarks>
public sealed class Delivery
{
    private readonly DeliverySource _source;

    // The engine's Entry for a lease, the ConsumerState holding a held delivery; null for one made with an ack id string.
    private readonly object? _owner;
    private string? _ackId;
    private string? _messageId;

    public Delivery(string ackId, TopicName topic, int partition, StoredRecord record, int deliveryAttempt)
        : this(new DeliverySource(topic, 0, 0), null, partition, record, deliveryAttempt, 0)
    {
        ArgumentNullException.ThrowIfNull(ackId);
        _ackId = ackId;
    }

    // The engine's, leased.
    internal Delivery(DeliverySource source, int partition, StoredRecord record, int attempt, Entry lease)
        : this(source, lease, partition, record, attempt, 0)
    {
    }

    // The engine's, held rather than leased (a first delivery to a handle that acks what it writes).
    internal Delivery(DeliverySource source, int partition, StoredRecord record, ConsumerState heldBy, int heldEpoch)
        : this(source, heldBy, partition, record, 1, heldEpoch)
    {
    }

    private Delivery(DeliverySource source, object? owner, int partition, StoredRecord record, int attempt, int heldEpoch)
    {
        _source = source;
        _owner = owner;
        Partition = partition;
        Record = record;
        DeliveryAttempt = attempt;
        HeldEpoch = heldEpoch;
    }

    // The engine's id is formatted only when asked for (a streaming consumer writes it as UTF-8 instead).
    public string AckId => _ackId ??= Id.ToString();

    public TopicName Topic => _source.Topic;

    public int Partition { get; }

    public StoredRecord Record { get; }

    public int DeliveryAttempt { get; }

    /// <summary>The message id clients see: <c>partition:offset</c>.</summary>
    public string MessageId => _messageId ??= $"{Partition}:{Record.Offset}";

    /// <summary>The engine's entry for this lease, for acks by the consumer that received it (no id to parse).</summary>
    internal Entry? Lease => _owner as Entry;

    /// <summary>
    /// Set for a held delivery (no lease, no entry, no deadline: see <see cref="ISubscriptionConsumer.HoldNewMessages"/>): the
    /// consumer that holds it until it acks or returns it.
    /// </summary>
    internal ConsumerState? HeldBy => _owner as ConsumerState;

    /// <summary>Its partition's clear count when taken: a seek or a reassignment since makes it stale.</summary>
    internal int HeldEpoch { get; }

    /// <summary>Acked or returned: a held delivery is settled once (set under its subscription's lock).</summary>
    internal bool HeldSettled { get; set; }

    /// <summary>
    /// This delivery's <see cref="AckId"/> as a key, equal to <see cref="AckIdList.KeyAt"/> of its id (however written),
    /// without its text. A position id (<c>{generation}.*.{partition}.{offset}.*</c>), which the engine also accepts for
    /// the lease, has a key of its own.
    /// </summary>
    public DeliveryKey Key => HasEngineId ? new DeliveryKey(Id)
        : Subscriptions.AckId.TryParse(_ackId, out var parsed) ? new DeliveryKey(parsed) : new DeliveryKey(_ackId!);

    private AckId Id => new(_source.Generation, _source.Epoch, Partition, Record.Offset, DeliveryAttempt);

    /// <summary>What the engine's deliveries of one subscription epoch share (<see cref="AckIdFormatter"/>).</summary>
    internal DeliverySource Source => _source;

    /// <summary>The id is the engine's, made from the source and the record (its text made at most on request), not one given as text.</summary>
    internal bool HasEngineId => _owner is not null;

    /// <summary>Writes <see cref="AckId"/> as UTF-8 into <paramref name="destination"/> without making the string.</summary>
    public bool TryFormatAckId(Span<byte> destination, out int written)
    {
        if (_ackId is not null || !HasEngineId)
        {
            return System.Text.Encoding.UTF8.TryGetBytes(AckId, destination, out written);
        }

        return Id.TryFormat(destination, out written);
    }
}

/// <summary>
/// An ack id as a dictionary key: the parsed id (its text not made), or the text of one not in the engine's form.
/// <see cref="Delivery.Key"/> and <see cref="AckIdList.KeyAt"/> are equal when the id is that delivery's (a position id
/// naming the same message is not), so a consumer that tracks what it sent can match the acks it gets back without a
/// string per message.
/// </summary>
public readonly struct DeliveryKey : IEquatable<DeliveryKey>
{
    private readonly AckId _id;
    private readonly string? _text;

    internal DeliveryKey(AckId id) => _id = id;

    internal DeliveryKey(string text) => _text = text;

    public bool Equals(DeliveryKey other) => _text is null
        ? other._text is null && _id == other._id
        : string.Equals(_text, other._text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is DeliveryKey other && Equals(other);

    public override int GetHashCode() => _text is null ? _id.GetHashCode() : StringComparer.Ordinal.GetHashCode(_text);

    public override string ToString() => _text ?? _id.ToString();

    public static bool operator ==(DeliveryKey left, DeliveryKey right) => left.Equals(right);

    public static bool operator !=(DeliveryKey left, DeliveryKey right) => !left.Equals(right);
}

/// <summary>
/// What every delivery a subscription makes in one epoch shares: its topic, and the generation and epoch its ack ids
/// carry. Made again when the epoch changes (a seek), so a delivery taken before keeps the id it was given.
/// </summary>
internal sealed class DeliverySource(TopicName topic, long generation, uint epoch)
{
    public TopicName Topic { get; } = topic;

    public long Generation { get; } = generation;

    public uint Epoch { get; } = epoch;
}

/// <summary>Where a message is: its partition and offset.</summary>
public readonly record struct MessagePosition(int Partition, long Offset);

public sealed record AckResult(int Succeeded, IReadOnlyList<string> Unknown, IReadOnlyList<string> Expired);

/// <summary>A subscription's settings and progress.</summary>
public sealed record SubscriptionInfo(
    TopicName Topic,
    string Name,
    SubscriptionSettings Settings,
    IReadOnlyList<PartitionCursorInfo> Partitions,
    long Backlog,
    int InFlight,
    IReadOnlyList<ConsumerInfo> Consumers)
{
    /// <summary>
    /// Messages this gateway read for the subscription that its <see cref="SubscriptionSettings.Filter"/> did not match
    /// (acked without delivery), since the gateway started; a message read again after a seek counts again.
    /// </summary>
    public long FilteredOut { get; init; }
}

/// <summary>
/// Committed offset: every message below it is acked. Lag = end offset - committed offset. <paramref name="Skipped"/>: the
/// damaged ranges this subscription skipped on this partition since the server started (the most recent ones), and
/// <paramref name="StoppedAt"/>: the damaged range it stopped at (policy <see cref="CorruptRecordsPolicy.Stop"/>).
/// </summary>
public sealed record PartitionCursorInfo(
    int Partition,
    long CommittedOffset,
    long EndOffset,
    long Lag,
    IReadOnlyList<CorruptRange>? Skipped = null,
    CorruptRange? StoppedAt = null);

public sealed record ConsumerInfo(string ConsumerId, bool Active, int InFlight, DateTimeOffset LastSeen);

/// <summary>An exclusive subscription already has a consumer (HTTP 409).</summary>
public sealed class SubscriptionBusyException(TopicName topic, string name)
    : Exception($"subscription '{name}' on topic '{topic}' is exclusive and already has a consumer");

/// <summary>No such subscription (for operations that do not create one).</summary>
public sealed class SubscriptionNotFoundException(TopicName topic, string name)
    : Exception($"subscription '{name}' does not exist on topic '{topic}'");
