namespace Sluice.Core.Webhooks;

/// <summary>Settings of the webhook dispatcher that apply to every webhook (setters, so <c>AddSluiceWebhooks(o =&gt; ...)</c> can set them).</summary>
public sealed record WebhookOptions
{
    /// <summary>Consecutive endpoint failures (5xx, timeouts, connection errors) that open an endpoint's circuit breaker.</summary>
    public int BreakerFailureThreshold { get; set; } = 5;

    /// <summary>How long an opened breaker waits before its first probe; doubles after each failed probe.</summary>
    public TimeSpan BreakerCooldown { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between probes.</summary>
    public TimeSpan BreakerMaxCooldown { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Whether this gateway calls webhooks (role <c>workers</c>); without it, registrations are stored and shown only.</summary>
    public bool RunWorkers { get; set; } = true;
}
