using System.Buffers;
using System.Text.Json;
using Sluice.Core.Subscriptions;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Writes a pull's answer, <c>{"messages":[...]}</c>, straight into the response pipe: each message by
/// <see cref="MessageJson.Write"/>, the very bytes the serializer writes for a <see cref="PullResponse"/> (same names,
/// order and escaping), without a <see cref="PulledMessage"/>, its strings and header dictionary per message.
/// </summary>
internal static class PullResponseWriter
{
    // Bytes the writer may hold before they are handed to the pipe: the pipe, not the writer, buffers a large answer.
    private const int FlushBytes = 16 * 1024;

    private static readonly JsonEncodedText MessagesName = JsonEncodedText.Encode("messages");

    public static async Task WriteAsync(HttpResponse response, IReadOnlyList<Delivery> deliveries)
    {
        response.ContentType = "application/json; charset=utf-8";
        Write(response.BodyWriter, deliveries);

        // Not cancelled by the request's abort: as before, the messages were taken and the answer is what tells the client.
        await response.BodyWriter.FlushAsync(CancellationToken.None);
    }

    /// <summary>The answer's bytes into <paramref name="output"/> (the response pipe; a test's buffer).</summary>
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<Delivery> deliveries)
    {
        using var writer = new Utf8JsonWriter(output, MessageJson.SharedWriterOptions);
        writer.WriteStartObject();
        writer.WriteStartArray(MessagesName);
        foreach (var delivery in deliveries)
        {
            MessageJson.Write(writer, delivery);
            if (writer.BytesPending > FlushBytes)
            {
                writer.Flush();
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
    }
}
