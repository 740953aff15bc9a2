using System.Text.Json.Serialization;

namespace Sluice.Server.Hosting;

/// <summary><c>/healthz</c> and <c>/readyz</c>; <see cref="Auth"/> (healthz only) is the authentication mode, <c>none</c> or <c>jwt</c>.</summary>
internal sealed record HealthResponse(string Status, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Auth = null);
