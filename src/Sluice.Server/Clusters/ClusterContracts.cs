using System.Text.Json.Serialization;

namespace Sluice.Server.Clusters;

/// <summary>The answer of <c>GET /v1/clusters</c>.</summary>
internal sealed record ClusterListResponse(List<ClusterResponse> Clusters);

/// <summary>A cluster: its name, and its Kafka bootstrap servers (superusers only; absent on the embedded log).</summary>
internal sealed record ClusterResponse(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KafkaBootstrap);
