using Sluice.Core.Topics;

namespace Sluice.Core.Webhooks;

/// <summary>
/// Webhook registrations (durable, in <c>__sluice/system/webhooks</c>) and their dispatchers. Validation of URLs
/// (schemes, SSRF) belongs to the caller; this service stores and runs what it is given.
/// </summary>
public interface IWebhookService
{
    /// <summary>Loads registrations and starts a dispatcher for each one not paused.</summary>
    ValueTask StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops every dispatcher, letting calls in flight finish and be settled until <paramref name="cancellationToken"/>.</summary>
    ValueTask StopAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// In a fleet, waits until changes other members made before this call are applied here (call before reading, so a
    /// registration made through one instance is seen through another). Completes at once on a single instance.
    /// </summary>
    ValueTask SyncAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    IReadOnlyList<WebhookDefinition> List();

    WebhookDefinition? Get(string id);

    /// <summary>
    /// Creates or replaces a webhook: makes sure its subscription exists with matching type and ack deadline, stores the
    /// registration, and (re)starts its dispatcher. Returns what was stored.
    /// </summary>
    ValueTask<WebhookDefinition> PutAsync(WebhookDefinition webhook, CancellationToken cancellationToken = default);

    /// <summary>Stops and removes the webhook, and its subscription when the webhook created it. False when unknown.</summary>
    ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Pauses (no calls; messages wait in the log) or resumes a webhook; persisted. Null when unknown.</summary>
    ValueTask<WebhookDefinition?> SetPausedAsync(string id, bool paused, CancellationToken cancellationToken = default);

    WebhookStats? GetStats(string id);

    /// <summary>The subscription name a webhook gets when none is given.</summary>
    static string DefaultSubscription(string id) => "webhook-" + id;

    /// <summary>The dead-letter topic a webhook uses when none is given.</summary>
    static TopicName DefaultDeadLetterTopic(TopicName topic) => new(topic.Tenant, topic.Namespace, topic.Name + "-dlq");
}
