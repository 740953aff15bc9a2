using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Kateway;

/// <summary>One group on one partition, as kateway's status routes answer it.</summary>
internal sealed class KatewaySubStatus
{
    [JsonPropertyName("appid")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Appid { get; set; }

    [JsonPropertyName("group")]
    public string Group { get; set; } = "";

    [JsonPropertyName("partition")]
    public string Partition { get; set; } = "";

    /// <summary>The partition's oldest offset.</summary>
    [JsonPropertyName("pold")]
    public long ProducedOldest { get; set; }

    /// <summary>The partition's end offset.</summary>
    [JsonPropertyName("pubd")]
    public long ProducedNewest { get; set; }

    /// <summary>The group's committed offset: every message below it is acked.</summary>
    [JsonPropertyName("subd")]
    public long Consumed { get; set; }

    /// <summary>kateway showed its consumer's address; a Sluice subscription's consumers have none.</summary>
    [JsonPropertyName("realip")]
    public string ClientRealIp { get; set; } = "";
}
