using Sluice.Core.Filters;
using Sluice.Core.Topics;

namespace Sluice.Core.Webhooks;

/// <summary>How a webhook orders its calls. Persisted values only grow.</summary>
public enum WebhookOrdering
{
    /// <summary>Up to <see cref="WebhookDefinition.Concurrency"/> calls at once, in any order (a <c>shared</c> subscription).</summary>
    None = 0,

    /// <summary>No two messages of one key in flight at once, each key in order (a <c>key_shared</c> subscription).</summary>
    PerKey = 1,
}

/// <summary>Exponential backoff with jitter between attempts, and when to give up.</summary>
public sealed record WebhookRetryPolicy
{
    public TimeSpan InitialInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Attempts in all, the first one included; the message is dead-lettered after the last one fails.</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>A message older than this (since its publish time) is dead-lettered at its next failure instead of retried.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The wait after the <paramref name="attempt"/>-th failed attempt: initial × 2^(attempt-1), capped at the maximum,
    /// then "equal jitter" (a uniform value between half and all of it) so a fleet of failed messages does not return at once.
    /// </summary>
    public TimeSpan Backoff(int attempt, double random01)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var ms = Math.Min(InitialInterval.TotalMilliseconds * Math.Pow(2, exponent), MaxInterval.TotalMilliseconds);
        return TimeSpan.FromMilliseconds((ms / 2) + (ms / 2 * random01));
    }
}

/// <summary>
/// A registered webhook: a push subscription that POSTs each message of <see cref="Topic"/> to <see cref="Url"/>.
/// Kept in the internal compacted topic <c>__sluice/system/webhooks</c>, secret included.
/// </summary>
public sealed record WebhookDefinition
{
    public required string Id { get; init; }

    public required TopicName Topic { get; init; }

    /// <summary>The subscription the dispatcher consumes; created with the webhook when absent.</summary>
    public required string Subscription { get; init; }

    /// <summary>True when the webhook created its subscription (and so deletes it with itself).</summary>
    public bool OwnsSubscription { get; init; }

    public required Uri Url { get; init; }

    /// <summary>Extra request headers (for example a receiver's own token).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Standard Webhooks secret: <c>whsec_</c> + base64 of the HMAC key. Never logged, never returned after creation.</summary>
    public required string Secret { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages in flight to the URL at once.</summary>
    public int Concurrency { get; init; } = 1;

    public WebhookOrdering Ordering { get; init; } = WebhookOrdering.None;

    public WebhookRetryPolicy Retry { get; init; } = new();

    /// <summary>Where rejected and exhausted messages go; null means <c>{topic}-dlq</c>.</summary>
    public TopicName? DeadLetterTopic { get; init; }

    /// <summary>
    /// The filter of the webhook's subscription: set on the subscription the webhook creates; an existing subscription
    /// keeps its own (null here adopts it, another one is refused with <see cref="Subscriptions.SubscriptionFilterFixedException"/>).
    /// </summary>
    public MessageFilter? Filter { get; init; }

    public bool Paused { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The ancestor whose per-message headers the calls also carry (a compatibility API's webhooks).</summary>
    public WebhookDialect Dialect { get; init; }

    /// <summary>Returns a reason when a value is out of range, otherwise null.</summary>
    public string? Validate()
    {
        if (Timeout < TimeSpan.FromMilliseconds(10) || Timeout > TimeSpan.FromMinutes(10))
        {
            return $"timeoutMs must be between 10 and 600000; got {(long)Timeout.TotalMilliseconds}";
        }

        if (Concurrency is < 1 or > 1024)
        {
            return $"concurrency must be between 1 and 1024; got {Concurrency}";
        }

        if (Retry.InitialInterval < TimeSpan.FromMilliseconds(1) || Retry.InitialInterval > TimeSpan.FromHours(1))
        {
            return $"retry.initialIntervalMs must be between 1 and 3600000; got {(long)Retry.InitialInterval.TotalMilliseconds}";
        }

        if (Retry.MaxInterval < Retry.InitialInterval || Retry.MaxInterval > TimeSpan.FromDays(1))
        {
            return $"retry.maxIntervalMs must be between retry.initialIntervalMs and 86400000; got {(long)Retry.MaxInterval.TotalMilliseconds}";
        }

        if (Retry.MaxAttempts is < 1 or > 1000)
        {
            return $"retry.maxAttempts must be between 1 and 1000; got {Retry.MaxAttempts}";
        }

        if (Retry.MaxAge < TimeSpan.FromMilliseconds(1) || Retry.MaxAge > TimeSpan.FromDays(365))
        {
            return $"retry.maxAgeMs must be between 1 and 31536000000; got {(long)Retry.MaxAge.TotalMilliseconds}";
        }

        if (DeadLetterTopic is { IsInternal: true } dlq)
        {
            return $"deadLetterTopic '{dlq}' is internal; choose a topic outside tenants starting with '{TopicName.InternalTenantPrefix}'";
        }

        return null;
    }
}
