using Sluice.Core.Filters;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>How a subscription spreads messages over its consumers. Persisted values only grow.</summary>
public enum SubscriptionType
{
    /// <summary>One consumer at a time; a second is refused (<see cref="SubscriptionBusyException"/>).</summary>
    Exclusive = 0,

    /// <summary>One active consumer, others stand by and take over when it goes away.</summary>
    Failover = 1,

    /// <summary>Messages spread over all consumers; no ordering between consumers.</summary>
    Shared = 2,

    /// <summary>Messages spread over consumers by key; each key stays in order on one consumer.</summary>
    KeyShared = 3,
}

/// <summary>Where a new subscription (or a seek) starts.</summary>
public sealed record StartPosition
{
    public static readonly StartPosition Earliest = new() { Kind = StartPositionKind.Earliest };

    public static readonly StartPosition Latest = new() { Kind = StartPositionKind.Latest };

    public StartPositionKind Kind { get; init; }

    /// <summary>For <see cref="StartPositionKind.Offset"/>: the offset; applies to <see cref="Partition"/> or, when null, to every partition.</summary>
    public long? Offset { get; init; }

    public int? Partition { get; init; }

    /// <summary>For <see cref="StartPositionKind.Time"/>: the first message at or after this time, in every partition.</summary>
    public DateTimeOffset? Time { get; init; }

    public static StartPosition AtOffset(long offset, int? partition = null) => new() { Kind = StartPositionKind.Offset, Offset = offset, Partition = partition };

    public static StartPosition AtTime(DateTimeOffset time) => new() { Kind = StartPositionKind.Time, Time = time };
}

public enum StartPositionKind
{
    Earliest = 0,
    Latest = 1,
    Offset = 2,
    Time = 3,
}

/// <summary>
/// A subscription's settings. Defaults (also used when a pull creates a subscription on first use):
/// shared, from latest, 30 s ack deadline, unlimited deliveries, no dead-letter topic.
/// </summary>
public sealed record SubscriptionSettings
{
    public SubscriptionType Type { get; init; } = SubscriptionType.Shared;

    public StartPosition Position { get; init; } = StartPosition.Latest;

    /// <summary>A delivered message not acked within this time is redelivered.</summary>
    public TimeSpan AckDeadline { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After this many deliveries an unacked message goes to <see cref="DeadLetterTopic"/>; 0 means no limit.</summary>
    public int MaxDeliveries { get; init; }

    /// <summary>Where messages go after <see cref="MaxDeliveries"/>; defaults to <c>{topic}-dlq</c> in the same namespace when a limit is set.</summary>
    public TopicName? DeadLetterTopic { get; init; }

    /// <summary>
    /// Only messages that match are delivered; the others are acked for this subscription as they are read, and counted
    /// (<see cref="SubscriptionInfo.FilteredOut"/>). Null: every message. Fixed at creation
    /// (<see cref="SubscriptionFilterFixedException"/>).
    /// </summary>
    public MessageFilter? Filter { get; init; }

    /// <summary>Returns a reason when a value is out of range, otherwise null.</summary>
    public string? Validate()
    {
        if (AckDeadline < TimeSpan.FromMilliseconds(100) || AckDeadline > TimeSpan.FromHours(12))
        {
            return $"ackDeadlineMs must be between 100 and 43200000; got {(long)AckDeadline.TotalMilliseconds}";
        }

        if (MaxDeliveries is < 0 or > 1000)
        {
            return $"maxDeliveries must be between 0 (no limit) and 1000; got {MaxDeliveries}";
        }

        return null;
    }
}
