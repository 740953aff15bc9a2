using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Kateway;

/// <summary>The body of <c>PUT /v1/webhooks</c>: kateway's webhook meta (its <c>cluster</c> is the server's to decide).</summary>
internal sealed class KatewayWebhookRequest
{
    [JsonPropertyName("endpoints")]
    public List<string>? Endpoints { get; set; }
}
