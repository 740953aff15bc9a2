using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Beam's topic document (its <c>TopicConfig</c>): PascalCase fields at the top level, as Go wrote them, camelCase in
/// <see cref="BeamWebhookConfig"/>. Read without regard to case, as Go's decoder does; unknown fields are ignored.
/// </summary>
internal sealed class BeamTopicDocument
{
    [JsonPropertyName("TopicFullName")]
    public string? TopicFullName { get; set; }

    [JsonPropertyName("PulsarURL")]
    public string? PulsarUrl { get; set; }

    /// <summary>Stored, never answered in full: answers carry <see cref="Webhooks.WebhookSigner.Hint"/> of it.</summary>
    [JsonPropertyName("Token")]
    public string? Token { get; set; }

    [JsonPropertyName("Tenant")]
    public string? Tenant { get; set; }

    [JsonPropertyName("Key")]
    public string? Key { get; set; }

    [JsonPropertyName("Notes")]
    public string? Notes { get; set; }

    [JsonPropertyName("TopicStatus")]
    public int TopicStatus { get; set; }

    [JsonPropertyName("Webhooks")]
    public List<BeamWebhookConfig>? Webhooks { get; set; }

    [JsonPropertyName("CreatedAt")]
    public DateTimeOffset CreatedAt { get; set; }

    [JsonPropertyName("UpdatedAt")]
    public DateTimeOffset UpdatedAt { get; set; }
}
