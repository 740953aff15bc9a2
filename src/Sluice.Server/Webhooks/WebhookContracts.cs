using System.Text.Json.Serialization;

namespace Sluice.Server.Webhooks;

/// <summary>Body of <c>POST /v1/webhooks</c> and <c>PUT /v1/webhooks/{id}</c>; omitted fields take the documented defaults.</summary>
internal sealed record WebhookRequest(
    string? Topic,
    string? Subscription,
    string? Url,
    Dictionary<string, string>? Headers,
    string? Secret,
    int? TimeoutMs,
    int? Concurrency,
    string? Ordering,
    WebhookRetryRequest? Retry,
    string? DeadLetterTopic,
    string? Filter = null);

internal sealed record WebhookRetryRequest(long? InitialIntervalMs, long? MaxIntervalMs, int? MaxAttempts, long? MaxAgeMs);

/// <summary>A webhook as the API shows it: the secret only in the answer that created it, header values never.</summary>
internal sealed record WebhookResponse(
    string Id,
    string Topic,
    string Subscription,
    string Url,
    Dictionary<string, string> Headers,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Secret,
    bool SecretSet,
    string SecretHint,
    long TimeoutMs,
    int Concurrency,
    string Ordering,
    WebhookRetryResponse Retry,
    string DeadLetterTopic,
    bool Paused,
    DateTimeOffset CreatedAt,
    string? Filter);

internal sealed record WebhookRetryResponse(long InitialIntervalMs, long MaxIntervalMs, int MaxAttempts, long MaxAgeMs);

internal sealed record WebhookListResponse(List<WebhookResponse> Webhooks);

internal sealed record WebhookStatsResponse(
    string Id,
    bool Paused,
    long Delivered,
    long Failed,
    long Retried,
    long DeadLettered,
    int InFlight,
    long? Backlog,
    long FilteredOut,
    WebhookBreakerResponse Breaker,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? LastSuccessAt);

internal sealed record WebhookBreakerResponse(string State, int ConsecutiveFailures, DateTimeOffset? OpenedAt, DateTimeOffset? NextProbeAt);
