using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sluice.Cli.Output;

/// <summary>Writes JSON answers as they are (no reflection: Utf8JsonWriter over JsonElement), indented or on one line.</summary>
internal static class JsonOutput
{
    // Readable output: non-ASCII text stays as it is rather than \uXXXX escapes.
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Pretty(JsonElement element) => Write(element, Indented);

    public static string Line(JsonElement element) => Write(element, Compact);

    /// <summary>Builds a JSON body with a writer callback.</summary>
    public static byte[] Build(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            write(writer);
        }

        return stream.ToArray();
    }

    private static string Write(JsonElement element, JsonWriterOptions options)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, options))
        {
            element.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }
}
