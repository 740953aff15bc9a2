using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Kateway;

/// <summary>kateway's bodies, read as Go reads JSON (names in any case, unknown fields ignored) and its answers.</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(List<AckOffset>))]
[JsonSerializable(typeof(KatewayWebhookRequest))]
[JsonSerializable(typeof(List<KatewaySubStatus>))]
[JsonSerializable(typeof(KatewayPartitions))]
[JsonSerializable(typeof(KatewayPartitionOffsets))]
[JsonSerializable(typeof(List<byte[]>))]
internal sealed partial class KatewayJsonContext : JsonSerializerContext;
