using System.Text.Json.Serialization;

namespace Sluice.Server.Hosting;

/// <summary>The answer of <c>/healthz</c> and <c>/readyz</c>; backend fields only on <c>/healthz</c>, problems only on <c>/readyz</c>.</summary>
internal sealed record HealthResponse(
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Backend = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KafkaBootstrap = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Auth = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<StorageProblemResponse>? Problems = null);

/// <summary>A partition's storage problem (<c>corrupt-records</c>, <c>storage-full</c>); topic and partition absent when not shown.</summary>
internal sealed record StorageProblemResponse(
    string Kind,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Topic,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Partition,
    string Detail);
