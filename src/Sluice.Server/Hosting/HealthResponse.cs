using System.Text.Json.Serialization;

namespace Sluice.Server.Hosting;

/// <summary>The answer of <c>/healthz</c> and <c>/readyz</c>; backend fields only on <c>/healthz</c>.</summary>
internal sealed record HealthResponse(
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Backend = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KafkaBootstrap = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Auth = null);
