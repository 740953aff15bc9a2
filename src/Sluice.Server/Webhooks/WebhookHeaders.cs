namespace Sluice.Server.Webhooks;

/// <summary>The headers of a webhook call (the README lists them).</summary>
internal static class WebhookHeaders
{
    // Standard Webhooks.
    public const string Id = "webhook-id";
    public const string Timestamp = "webhook-timestamp";
    public const string Signature = "webhook-signature";

    // Sluice's metadata.
    public const string WebhookId = "Sluice-Webhook-Id";
    public const string MessageId = "Sluice-Message-Id";
    public const string Topic = "Sluice-Topic";
    public const string Key = "Sluice-Key";
    public const string KeyEncoding = "Sluice-Key-Encoding";
    public const string PublishTime = "Sluice-Publish-Time";
    public const string Attempt = "Sluice-Attempt";

    /// <summary>Each message header <c>h</c> travels as <c>Sluice-Header-h</c>, as it was produced.</summary>
    public const string MessageHeaderPrefix = "Sluice-Header-";
}
