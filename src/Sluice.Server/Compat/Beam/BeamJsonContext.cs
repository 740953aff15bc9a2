using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Beam's documents, read as Go reads JSON (field names in any case, unknown fields ignored) and written with Beam's
/// field names. Kept apart from SluiceJsonContext, whose reading is strict (unknown fields are errors there).
/// </summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(BeamTopicDocument))]
[JsonSerializable(typeof(string))]
internal sealed partial class BeamJsonContext : JsonSerializerContext;
