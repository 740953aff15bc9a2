namespace Sluice.Core.Replication;

/// <summary>What became of a batch: the three outcomes the engine acts on.</summary>
public enum SinkWriteOutcome
{
    /// <summary>The target acknowledged every record: the partition's position moves past the batch.</summary>
    Written = 0,

    /// <summary>A transient failure (target down, timeout, 5xx): the same batch is written again after a backoff.</summary>
    Retry = 1,

    /// <summary>
    /// The target refused a record for good (constraint violation, 4xx, too large): that record goes to the dead-letter
    /// topic with the reason, and the rest of the batch is written again without it.
    /// </summary>
    Refused = 2,
}

/// <summary>The outcome of <see cref="IReplicationSink.WriteAsync"/>.</summary>
public readonly record struct SinkWriteResult
{
    public SinkWriteOutcome Outcome { get; private init; }

    /// <summary>Why it failed, for the status and the dead-letter reason. Never put a secret here (the engine also scrubs them).</summary>
    public string? Error { get; private init; }

    /// <summary>For <see cref="SinkWriteOutcome.Retry"/>: the target asked to wait at least this long (HTTP Retry-After).</summary>
    public TimeSpan? RetryAfter { get; private init; }

    /// <summary>
    /// For <see cref="SinkWriteOutcome.Refused"/>: the index in the batch of the refused record, or null when the target
    /// refused the batch without saying which record (a failed transaction): the engine then splits the batch until the
    /// refused record is alone.
    /// </summary>
    public int? RefusedIndex { get; private init; }

    /// <summary>
    /// For a failure: how many records at the start of the batch the target had acknowledged before it (a sink that sends
    /// one request per record). Those are acked and not written again; the rest of the batch is retried or refused.
    /// </summary>
    public int Acknowledged { get; private init; }

    public static SinkWriteResult Written { get; } = new() { Outcome = SinkWriteOutcome.Written };

    public static SinkWriteResult Retry(string error, TimeSpan? retryAfter = null, int acknowledged = 0)
        => new() { Outcome = SinkWriteOutcome.Retry, Error = error, RetryAfter = retryAfter, Acknowledged = acknowledged };

    /// <summary>
    /// The record at <paramref name="index"/> (or, when null, some record of the batch) is refused for good. Records before
    /// <paramref name="acknowledged"/> count as written; the others are written again, without the refused one.
    /// </summary>
    public static SinkWriteResult Refused(string reason, int? index = null, int acknowledged = 0)
        => new() { Outcome = SinkWriteOutcome.Refused, Error = reason, RefusedIndex = index, Acknowledged = acknowledged };
}
