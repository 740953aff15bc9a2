using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Beam;

/// <summary>One webhook of a Beam topic document (its <c>WebhookConfig</c>).</summary>
internal sealed class BeamWebhookConfig
{
    /// <summary>Beam's webhook states: only <see cref="Activated"/> calls; here <see cref="Suspended"/> pauses.</summary>
    public const int Deactivated = 0;
    public const int Activated = 1;
    public const int Suspended = 2;
    public const int Deleted = 3;

    [JsonPropertyName("url")]
    public string? Url { get; set; }

    /// <summary>Extra request headers as <c>"Name: value"</c> strings.</summary>
    [JsonPropertyName("headers")]
    public List<string>? Headers { get; set; }

    [JsonPropertyName("subscription")]
    public string? Subscription { get; set; }

    [JsonPropertyName("subscriptionType")]
    public string? SubscriptionType { get; set; }

    [JsonPropertyName("initialPosition")]
    public string? InitialPosition { get; set; }

    [JsonPropertyName("webhookStatus")]
    public int WebhookStatus { get; set; }

    [JsonPropertyName("createdAt")]
    public DateTimeOffset CreatedAt { get; set; }

    [JsonPropertyName("updatedAt")]
    public DateTimeOffset UpdatedAt { get; set; }

    [JsonPropertyName("deletedAt")]
    public DateTimeOffset DeletedAt { get; set; }
}
