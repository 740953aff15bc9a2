using System.Collections.Frozen;

namespace Sluice.Server.Security;

/// <summary>
/// The permission each named route needs. A new route adds one line here (or carries an <see cref="AccessRule"/> as
/// metadata, which wins: <c>.WithMetadata(AccessRule.Namespace(Permission.Produce))</c>). A route with neither is
/// open to superusers only, so a forgotten route fails closed.
/// </summary>
internal static class AccessRules
{
    private static readonly FrozenDictionary<string, AccessRule> ByEndpointName = new Dictionary<string, AccessRule>(StringComparer.Ordinal)
    {
        // Topic admin. A listing shows only the topics the caller may use.
        ["ListTopics"] = AccessRule.PerResource,
        ["PutTopic"] = AccessRule.Namespace(Permission.Admin),
        ["GetTopic"] = AccessRule.Namespace(Permission.Produce | Permission.Consume),
        ["DeleteTopic"] = AccessRule.Namespace(Permission.Admin),

        // Produce.
        ["Produce"] = AccessRule.Namespace(Permission.Produce),
        ["ProduceBatch"] = AccessRule.Namespace(Permission.Produce),
        ["ProduceWebSocket"] = AccessRule.Namespace(Permission.Produce, acceptsQueryToken: true),

        // Consume: subscriptions, pull, acks, streams, replay. Deleting a subscription is admin.
        ["ListSubscriptions"] = AccessRule.Namespace(Permission.Consume),
        ["PutSubscription"] = AccessRule.Namespace(Permission.Consume),
        ["GetSubscription"] = AccessRule.Namespace(Permission.Consume),
        ["DeleteSubscription"] = AccessRule.Namespace(Permission.Admin),
        ["Pull"] = AccessRule.Namespace(Permission.Consume),
        ["Ack"] = AccessRule.Namespace(Permission.Consume),
        ["Nack"] = AccessRule.Namespace(Permission.Consume),
        ["Seek"] = AccessRule.Namespace(Permission.Consume),
        ["SubscriptionEvents"] = AccessRule.Namespace(Permission.Consume, acceptsQueryToken: true),
        ["SubscriptionWebSocket"] = AccessRule.Namespace(Permission.Consume, acceptsQueryToken: true),
        ["Read"] = AccessRule.Namespace(Permission.Consume),

        // Webhooks name their topic in the body or in the stored registration: checked by the handlers (admin of the topic's namespace).
        ["CreateWebhook"] = AccessRule.PerResource,
        ["ListWebhooks"] = AccessRule.PerResource,
        ["GetWebhook"] = AccessRule.PerResource,
        ["PutWebhook"] = AccessRule.PerResource,
        ["DeleteWebhook"] = AccessRule.PerResource,
        ["PauseWebhook"] = AccessRule.PerResource,
        ["ResumeWebhook"] = AccessRule.PerResource,
        ["WebhookStats"] = AccessRule.PerResource,

        // Replicators name their source in the body or in the stored registration: checked by the handlers (admin of the source namespace).
        ["CreateReplicator"] = AccessRule.PerResource,
        ["ListReplicators"] = AccessRule.PerResource,
        ["GetReplicator"] = AccessRule.PerResource,
        ["PutReplicator"] = AccessRule.PerResource,
        ["DeleteReplicator"] = AccessRule.PerResource,
        ["StartReplicator"] = AccessRule.PerResource,
        ["StopReplicator"] = AccessRule.PerResource,
        ["RestartReplicator"] = AccessRule.PerResource,
        ["ReplicatorStatus"] = AccessRule.PerResource,
        ["SeekReplicator"] = AccessRule.PerResource,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The endpoint's rule, or null (superusers only).</summary>
    public static AccessRule? For(Endpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<AccessRule>() is { } rule)
        {
            return rule;
        }

        return endpoint.Metadata.GetMetadata<IEndpointNameMetadata>() is { } name ? ForName(name.EndpointName) : null;
    }

    /// <summary>The rule of the route of this name, or null.</summary>
    public static AccessRule? ForName(string endpointName) => ByEndpointName.GetValueOrDefault(endpointName);
}
