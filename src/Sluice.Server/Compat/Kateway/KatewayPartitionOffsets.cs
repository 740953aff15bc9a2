using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Kateway;

/// <summary>One partition's offsets in <see cref="KatewayPartitions"/>.</summary>
internal sealed class KatewayPartitionOffsets
{
    [JsonPropertyName("oldest")]
    public long Oldest { get; set; }

    [JsonPropertyName("latest")]
    public long Latest { get; set; }
}
