using System.Buffers;
using System.Text.Json;

namespace Sluice.Server.Produce;

/// <summary>
/// Writes the answers of durable produce straight into the response pipe, without the serializer:
/// <list type="bullet">
/// <item>a batch appended to one partition, nothing delayed (the usual batch),
/// <c>{"results":[{"id":"p:o","partition":p,"offset":o},...]}</c> (the shape of <see cref="BatchResponse"/>, which the
/// API description names and the other batches still use). Serializing a <see cref="BatchResponse"/> cost two objects
/// per record (the result and its id string) and the serializer's per-property work: a sixth of the CPU of a
/// 1,000-record batch (design note 0017);</item>
/// <item>a single message, <c>{"id":"p:o","partition":p,"offset":o,"timestamp":"..."}</c> (the shape of
/// <see cref="ProduceResponse"/>), with a <c>Content-Length</c>, in one write. The serializer's stream path
/// (<c>WriteAsJsonAsync</c>) cost 4% of a single produce's server CPU and answered chunked (design note 0023).</item>
/// </list>
/// </summary>
internal static class ProduceAnswerWriter
{
    private static readonly JsonEncodedText Results = JsonEncodedText.Encode("results");
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText Partition = JsonEncodedText.Encode("partition");
    private static readonly JsonEncodedText Offset = JsonEncodedText.Encode("offset");
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");

    [ThreadStatic]
    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? _single;

    /// <summary>Record <c>i</c> of <paramref name="count"/> went to <paramref name="partition"/> at <paramref name="baseOffset"/> + i.</summary>
    public static async Task WriteBatchAsync(HttpResponse response, int partition, long baseOffset, int count)
    {
        response.ContentType = "application/json; charset=utf-8";
        Write(response.BodyWriter, partition, baseOffset, count);
        await response.BodyWriter.FlushAsync(CancellationToken.None);
    }

    /// <summary>The single message went to <paramref name="partition"/> at <paramref name="offset"/>.</summary>
    public static void WriteSingle(HttpResponse response, int partition, long offset, DateTimeOffset timestamp)
    {
        var (buffer, writer) = _single ??= NewSingle();
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        Span<byte> id = stackalloc byte[32]; // "2147483647:9223372036854775807" is 30 bytes
        var n = FormatId(id, partition, offset);
        writer.WriteStartObject();
        writer.WriteString(Id, id[..n]);
        writer.WriteNumber(Partition, partition);
        writer.WriteNumber(Offset, offset);
        writer.WriteString(Timestamp, timestamp);
        writer.WriteEndObject();
        writer.Flush();

        // Kestrel sends what the pipe holds when the endpoint returns: no flush of our own, no second write.
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan);
    }

    private static (ArrayBufferWriter<byte>, Utf8JsonWriter) NewSingle()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        return (buffer, new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }));
    }

    private static int FormatId(Span<byte> id, int partition, long offset)
    {
        partition.TryFormat(id, out var prefix, provider: System.Globalization.CultureInfo.InvariantCulture);
        id[prefix++] = (byte)':';
        offset.TryFormat(id[prefix..], out var n, provider: System.Globalization.CultureInfo.InvariantCulture);
        return prefix + n;
    }

    private static void Write(System.IO.Pipelines.PipeWriter output, int partition, long baseOffset, int count)
    {
        // The writer hands every write to the pipe's own buffers; SkipValidation: the shape is fixed here.
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        Span<byte> id = stackalloc byte[32]; // "2147483647:9223372036854775807" is 30 bytes
        writer.WriteStartObject();
        writer.WriteStartArray(Results);
        partition.TryFormat(id, out var prefix, provider: System.Globalization.CultureInfo.InvariantCulture);
        id[prefix++] = (byte)':';
        for (var i = 0; i < count; i++)
        {
            var offset = baseOffset + i;
            offset.TryFormat(id[prefix..], out var n, provider: System.Globalization.CultureInfo.InvariantCulture);
            writer.WriteStartObject();
            writer.WriteString(Id, id[..(prefix + n)]);
            writer.WriteNumber(Partition, partition);
            writer.WriteNumber(Offset, offset);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
