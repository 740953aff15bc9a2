namespace Sluice.Core.Webhooks;

/// <summary>A webhook's counters since this gateway started (not durable), and its endpoint's circuit breaker.</summary>
public sealed record WebhookStats(
    string Id,
    bool Paused,
    long Delivered,
    long Failed,
    long Retried,
    long DeadLettered,
    int InFlight,
    CircuitBreakerInfo Breaker,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? LastSuccessAt);

/// <summary>A circuit breaker's state: <c>closed</c> (calling), <c>open</c> (not calling until <see cref="NextProbeAt"/>), <c>half_open</c> (one probe call).</summary>
public sealed record CircuitBreakerInfo(string State, int ConsecutiveFailures, DateTimeOffset? OpenedAt, DateTimeOffset? NextProbeAt);
