using Sluice.Core.Topics;

namespace Sluice.Core.Delay;

/// <summary>
/// Delayed messages: produced now, delivered to their topic at a given time, cancellable until then. Until it is due a
/// message is held in an internal holding topic (no subscription, stream, webhook or replicator can see it); when due
/// its partition's owner appends it to the topic, where every consumer sees it as any message (at-least-once).
/// Every API that produces (HTTP, WebSocket, gRPC, compatibility adapters) goes through this.
/// </summary>
public interface IDelayService
{
    /// <summary>
    /// Appends records for delivery to <paramref name="partition"/> of <paramref name="topic"/> (which must exist) at their
    /// times, in order, and completes once they are durable. Records due at the same time are delivered in this order.
    /// Throws <see cref="InvalidDelayException"/> for a time more than <see cref="DelayLimits.MaxDelay"/> ahead, and the
    /// log's exceptions for an unknown topic or partition or a record too large; then nothing was written.
    /// </summary>
    ValueTask<DelayedAppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<DelayedRecord> records, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels the delayed message <paramref name="id"/> of <paramref name="topic"/> if it is still pending. Throws
    /// <see cref="InvalidDelayException"/> when the id is malformed, and <see cref="DelayUnavailableException"/> when the
    /// partition's owner did not decide in time (the cancel stays requested).
    /// </summary>
    ValueTask<CancelOutcome> CancelAsync(TopicName topic, string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> pending messages after the position <paramref name="after"/> (a page's
    /// <see cref="DelayedPage.Next"/>; null for the first page). Throws <see cref="InvalidDelayException"/> for a malformed position.
    /// </summary>
    ValueTask<DelayedPage> ListAsync(TopicName topic, string? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Deletes the topic's pending delayed messages and its holding topic (the topic itself is the caller's).</summary>
    ValueTask DeleteTopicAsync(TopicName topic, CancellationToken cancellationToken = default);
}
