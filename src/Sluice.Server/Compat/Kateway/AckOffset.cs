using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Kateway;

/// <summary>One entry of <c>PUT /v1/offsets</c>: the last message processed in a partition.</summary>
internal sealed class AckOffset
{
    [JsonPropertyName("partition")]
    public int Partition { get; set; }

    [JsonPropertyName("offset")]
    public long Offset { get; set; }
}
