using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sluice.Server.Hosting;

/// <summary>
/// Writes a JSON answer into the response pipe without flushing it: Kestrel sends the answer, and a chunked answer's
/// last chunk with it, in one send when the endpoint returns. <c>WriteAsJsonAsync</c> flushes, which with inline sends
/// (<c>inlineIo</c>) made the body one send and the end of the answer another (design note 0047). For answers that
/// are complete when written; a streamed answer flushes as it goes.
/// </summary>
internal static class JsonAnswer
{
    public static void Write<T>(HttpResponse response, T value, JsonTypeInfo<T> typeInfo)
    {
        response.ContentType = "application/json; charset=utf-8";

        // The serializer's own output settings, as WriteAsJsonAsync takes them from the options.
        var options = typeInfo.Options;
        using var writer = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { Encoder = options.Encoder, Indented = options.WriteIndented, MaxDepth = options.MaxDepth, SkipValidation = true });
        JsonSerializer.Serialize(writer, value, typeInfo);
    }
}
