using Sluice.Core.Subscriptions;

namespace Sluice.Core.Webhooks;

/// <summary>
/// Makes one call of a webhook (the server's implementation is HTTP: signing, SSRF guard, reply forwarding).
/// The dispatcher turns the answer into an ack, a delayed nack or a dead-letter.
/// </summary>
public interface IWebhookTransport
{
    /// <summary>Delivers one message; never throws for a failure of the receiver (that is a result), only for a bug.</summary>
    ValueTask<WebhookCallResult> SendAsync(WebhookDefinition webhook, Delivery delivery, CancellationToken cancellationToken);
}

/// <summary>What the dispatcher does with a message after a call.</summary>
public enum WebhookCallOutcome
{
    /// <summary>2xx: ack.</summary>
    Delivered = 0,

    /// <summary>5xx, 408, 429, timeout, connection error: retry per policy.</summary>
    Retry = 1,

    /// <summary>Any other answer (4xx): dead-letter at once, retrying cannot help.</summary>
    Reject = 2,
}

/// <summary>The result of one call.</summary>
/// <param name="Outcome">What to do with the message.</param>
/// <param name="StatusCode">The HTTP status, when an answer came.</param>
/// <param name="Error">A short description of a failure, without secrets (it is shown in stats and dead-letter headers).</param>
/// <param name="RetryAfter">A lower bound for the next attempt (429 or 503 <c>Retry-After</c>).</param>
/// <param name="EndpointFailure">True when the failure says the endpoint is unwell (5xx, timeout, connection error): it counts towards opening the circuit breaker. 429 and 4xx do not.</param>
public sealed record WebhookCallResult(WebhookCallOutcome Outcome, int? StatusCode, string? Error, TimeSpan? RetryAfter = null, bool EndpointFailure = false)
{
    public static readonly WebhookCallResult Success = new(WebhookCallOutcome.Delivered, 200, null);
}
