using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Kateway;

/// <summary><c>GET /v1/partitions</c>: the partition count and each partition's oldest and latest offsets.</summary>
internal sealed class KatewayPartitions
{
    [JsonPropertyName("num")]
    public int Number { get; set; }

    [JsonPropertyName("offsets")]
    public Dictionary<string, KatewayPartitionOffsets> Offsets { get; set; } = [];
}
