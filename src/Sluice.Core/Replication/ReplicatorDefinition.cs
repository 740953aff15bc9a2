using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>How a replicator orders its writes. Persisted values only grow.</summary>
public enum ReplicatorOrdering
{
    /// <summary>One batch in flight per partition: the target sees each partition in order, retries included.</summary>
    Partition = 0,

    /// <summary>Several batches of a partition in flight at once, completing in any order.</summary>
    None = 1,
}

/// <summary>What a replicator copies: one topic, or every topic of a namespace (those created later included).</summary>
public sealed record ReplicatorSource
{
    /// <summary>The topic, or null for a namespace source.</summary>
    public TopicName? Topic { get; init; }

    public required string Tenant { get; init; }

    public required string Namespace { get; init; }

    public bool IsNamespace => Topic is null;

    /// <summary>A topic of the source: the topic itself, or any client topic of the namespace.</summary>
    public bool Covers(TopicName topic) => Topic is { } t ? t == topic : !topic.IsInternal && topic.Tenant == Tenant && topic.Namespace == Namespace;

    public static ReplicatorSource ForTopic(TopicName topic) => new() { Topic = topic, Tenant = topic.Tenant, Namespace = topic.Namespace };

    public static ReplicatorSource ForNamespace(string tenant, string ns) => new() { Tenant = tenant, Namespace = ns };

    /// <summary><c>tenant/namespace/topic</c>, or <c>tenant/namespace/*</c>.</summary>
    public override string ToString() => Topic?.ToString() ?? $"{Tenant}/{Namespace}/*";
}

/// <summary>When a partition's pending records are written: whichever limit is reached first.</summary>
public sealed record ReplicatorBatchPolicy
{
    public int MaxRecords { get; init; } = 500;

    public int MaxBytes { get; init; } = 1024 * 1024;

    /// <summary>How long the first pending record may wait for more. 0: write at once (records arriving while a batch is in flight still gather into the next).</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.Zero;
}

/// <summary>Backoff between attempts at a batch that failed transiently.</summary>
public sealed record ReplicatorRetryPolicy
{
    public TimeSpan InitialInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts in all before the batch's records are dead-lettered; 0 (the default) retries for ever.</summary>
    public int MaxAttempts { get; init; }

    /// <summary>initial × 2^(attempt-1), capped, then between half and all of it (jitter).</summary>
    public TimeSpan Backoff(int attempt, double random01)
    {
        var ms = Math.Min(InitialInterval.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt - 1, 0, 30)), MaxInterval.TotalMilliseconds);
        return TimeSpan.FromMilliseconds((ms / 2) + (ms / 2 * random01));
    }
}

/// <summary>
/// A registered replicator. Kept in the internal compacted topic <c>__sluice/system/replicators</c>, secrets included
/// (the backend is trusted); never shown with its secrets.
/// </summary>
public sealed record ReplicatorDefinition
{
    /// <summary>The subscription every source topic is consumed through.</summary>
    public const string SubscriptionPrefix = "replicator-";

    public required string Name { get; init; }

    public required ReplicatorSource Source { get; init; }

    /// <summary>Where the replicator starts on each topic it picks up (earliest by default).</summary>
    public StartPosition Position { get; init; } = StartPosition.Earliest;

    /// <summary>The sink's <c>type</c>.</summary>
    public required string SinkType { get; init; }

    /// <summary>The <c>sink</c> object as given (JSON text), <c>${secret:name}</c> references unresolved.</summary>
    public required string SinkJson { get; init; }

    /// <summary>Write-only values the sink settings refer to; never shown, logged or put in an error.</summary>
    public IReadOnlyDictionary<string, string> Secrets { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public ReplicatorBatchPolicy Batch { get; init; } = new();

    public ReplicatorRetryPolicy Retry { get; init; } = new();

    /// <summary>Template (<c>{tenant}</c>, <c>{namespace}</c>, <c>{topic}</c>) of the dead-letter topic; null: <c>{tenant}/{namespace}/{topic}-dlq</c>.</summary>
    public string? DeadLetterTopic { get; init; }

    public ReplicatorOrdering Ordering { get; init; } = ReplicatorOrdering.Partition;

    /// <summary>Persisted: a stopped replicator keeps its position and writes nothing.</summary>
    public bool Stopped { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public string Subscription => SubscriptionPrefix + Name;

    public static string DefaultDeadLetterTemplate => "{tenant}/{namespace}/{topic}-dlq";

    /// <summary>The dead-letter topic of one source topic.</summary>
    public TopicName DeadLetterTopicFor(TopicName topic) => TopicName.Parse(TargetTemplate.TryParse(DeadLetterTopic ?? DefaultDeadLetterTemplate, out _)!.Apply(topic));

    /// <summary>Returns a field and a reason when a value is out of range, otherwise null.</summary>
    public (string Field, string Reason)? Validate()
    {
        if (Name.Length is 0 or > 200 || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || Name is "." or "..")
        {
            return ("name", "name must be 1 to 200 letters, digits, '-', '_' or '.'");
        }

        if (Batch.MaxRecords is < 1 or > 100_000)
        {
            return ("batch.maxRecords", $"batch.maxRecords must be between 1 and 100000; got {Batch.MaxRecords}");
        }

        if (Batch.MaxBytes is < 1024 or > 64 * 1024 * 1024)
        {
            return ("batch.maxBytes", $"batch.maxBytes must be between 1024 and 67108864; got {Batch.MaxBytes}");
        }

        if (Batch.Linger < TimeSpan.Zero || Batch.Linger > TimeSpan.FromMinutes(1))
        {
            return ("batch.lingerMs", $"batch.lingerMs must be between 0 and 60000; got {(long)Batch.Linger.TotalMilliseconds}");
        }

        if (Retry.InitialInterval < TimeSpan.FromMilliseconds(1) || Retry.InitialInterval > TimeSpan.FromHours(1))
        {
            return ("retry.initialIntervalMs", $"retry.initialIntervalMs must be between 1 and 3600000; got {(long)Retry.InitialInterval.TotalMilliseconds}");
        }

        if (Retry.MaxInterval < Retry.InitialInterval || Retry.MaxInterval > TimeSpan.FromDays(1))
        {
            return ("retry.maxIntervalMs", $"retry.maxIntervalMs must be between retry.initialIntervalMs and 86400000; got {(long)Retry.MaxInterval.TotalMilliseconds}");
        }

        if (Retry.MaxAttempts is < 0 or > 1_000_000)
        {
            return ("retry.maxAttempts", $"retry.maxAttempts must be between 0 (no limit) and 1000000; got {Retry.MaxAttempts}");
        }

        if (Source.Topic is { IsInternal: true } || Source.Tenant.StartsWith(TopicName.InternalTenantPrefix, StringComparison.Ordinal))
        {
            return ("source.topic", $"tenants starting with '{TopicName.InternalTenantPrefix}' are Sluice's own; replicate a client topic");
        }

        if (DeadLetterTopic is not null)
        {
            if (TargetTemplate.TryParse(DeadLetterTopic, out var error) is null)
            {
                return ("deadLetterTopic", "deadLetterTopic " + error);
            }
        }

        try
        {
            var sample = Source.Topic ?? new TopicName(Source.Tenant, Source.Namespace, "t");
            if (DeadLetterTopicFor(sample).IsInternal)
            {
                return ("deadLetterTopic", "deadLetterTopic must not be an internal topic");
            }
        }
        catch (InvalidNameException ex)
        {
            return ("deadLetterTopic", "deadLetterTopic does not make a valid topic name: " + ex.Message);
        }

        return null;
    }
}
