using System.Text.Json;

namespace Sluice.Server.Replication;

/// <summary>A replicator as the API shows it: the sink as given (secret references unresolved), secret names only.</summary>
internal sealed record ReplicatorResponse(
    string Name,
    ReplicatorSourceResponse Source,
    JsonElement Sink,
    List<string> Secrets,
    ReplicatorBatchResponse Batch,
    ReplicatorRetryResponse Retry,
    string DeadLetterTopic,
    string Ordering,
    bool Stopped,
    DateTimeOffset CreatedAt);

/// <summary><c>position</c>: <c>earliest</c>, <c>latest</c> or the ISO-8601 time it starts at.</summary>
internal sealed record ReplicatorSourceResponse(string Topic, string Position);

internal sealed record ReplicatorBatchResponse(int MaxRecords, int MaxBytes, long LingerMs);

internal sealed record ReplicatorRetryResponse(long InitialIntervalMs, long MaxIntervalMs, int MaxAttempts);

internal sealed record ReplicatorListResponse(List<ReplicatorResponse> Replicators);
