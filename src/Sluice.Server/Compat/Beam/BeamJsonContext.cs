using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Beam's documents, read as Go reads JSON (field names in any case, unknown fields ignored) and written with Beam's
/// field names. Kept apart from SluiceJsonContext, whose reading is strict (unknown fields are errors there).
/// </summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(BeamTopicDocument))]
[JsonSerializable(typeof(string))]
internal sealed partial class BeamJsonContext : JsonSerializerContext
{
    /// <summary>For answers: characters such as '+' in URLs written as themselves, as Go wrote them (control characters are still escaped).</summary>
    public static BeamJsonContext Answers { get; } = new(new JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNameCaseInsensitive = true,
    });
}
