namespace Sluice.Core.Webhooks;

/// <summary>
/// Which ancestor's per-message headers a webhook call carries besides Sluice's own (signature, message id, topic, ...),
/// so receivers written for Pulsar Beam or kateway keep working. Persisted values only grow.
/// </summary>
public enum WebhookDialect
{
    /// <summary>Sluice's headers only.</summary>
    Sluice = 0,

    /// <summary>Also Pulsar Beam's: <c>PulsarTopic</c>, <c>PulsarMessageId</c>, <c>PulsarPublishedTime</c>, <c>PulsarProperties-*</c>.</summary>
    PulsarBeam = 1,

    /// <summary>Also kateway's: <c>X-Partition</c>, <c>X-Offset</c>.</summary>
    Kateway = 2,
}
