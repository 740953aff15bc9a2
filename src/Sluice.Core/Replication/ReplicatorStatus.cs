namespace Sluice.Core.Replication;

/// <summary>
/// What a replicator is doing, as this gateway sees it. <see cref="State"/>: <c>stopped</c> (by request), <c>failed</c>
/// (its sink could not be made, or a worker failed and is about to restart), <c>retrying</c> (a write failed and is
/// being retried, or a source topic is missing), otherwise <c>running</c>. Counters are this gateway's since it started.
/// </summary>
public sealed record ReplicatorStatus(
    string Name,
    string State,
    bool WorkersHere,
    long RecordsWritten,
    long BytesWritten,
    long BatchesWritten,
    long DeadLettered,
    long Retries,
    int Restarts,
    DateTimeOffset? LastWriteAt,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? NextAttemptAt,
    long Lag,
    IReadOnlyList<ReplicatorTopicStatus> Topics);

/// <summary>One source topic of a replicator.</summary>
public sealed record ReplicatorTopicStatus(
    string Topic,
    string? Target,
    string State,
    string? LastError,
    DateTimeOffset? NextAttemptAt,
    long Lag,
    IReadOnlyList<ReplicatorPartitionStatus> Partitions);

/// <summary>One partition: <see cref="Position"/> is the next offset to replicate (everything below it was written), lag = end - position.</summary>
public sealed record ReplicatorPartitionStatus(int Partition, long Position, long EndOffset, long Lag, bool Retrying, string? LastError, DateTimeOffset? NextAttemptAt);

/// <summary>How to move a stopped replicator: a position for every partition of every source topic, or offsets.</summary>
public sealed record ReplicatorSeek
{
    /// <summary><c>earliest</c>, <c>latest</c> or a time, for every partition of every source topic.</summary>
    public Subscriptions.StartPosition? Position { get; init; }

    /// <summary>Explicit offsets; <see cref="ReplicatorSeekOffset.Topic"/> may be null for a topic source.</summary>
    public IReadOnlyList<ReplicatorSeekOffset> Offsets { get; init; } = [];
}

public sealed record ReplicatorSeekOffset(Topics.TopicName? Topic, int Partition, long Offset);

/// <summary>The replicator must be stopped first (HTTP 409).</summary>
public sealed class ReplicatorNotStoppedException(string name)
    : Exception($"replicator '{name}' is running; stop it first (POST /v1/replicators/{name}/stop), then seek");
