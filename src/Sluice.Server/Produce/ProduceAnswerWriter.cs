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
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText Partition = JsonEncodedText.Encode("partition");
    private static readonly JsonEncodedText Offset = JsonEncodedText.Encode("offset");
    private static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");

    [ThreadStatic]
    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? _single;

    /// <summary>Record <c>i</c> of <paramref name="count"/> went to <paramref name="partition"/> at <paramref name="baseOffset"/> + i.</summary>
    public static void WriteBatch(HttpResponse response, int partition, long baseOffset, int count)
    {
        // Not flushed: Kestrel sends it, with the chunked answer's end, in one send when the endpoint returns (JsonAnswer).
        response.ContentType = "application/json; charset=utf-8";
        Write(response.BodyWriter, partition, baseOffset, count);
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

    // The batch answer by hand: every record's entry is the same bytes around its offset's digits, which need no
    // escaping. Through Utf8JsonWriter the entries cost 6% of a 1,000-record batch's server CPU (design note 0025).
    private static void Write(System.IO.Pipelines.PipeWriter output, int partition, long baseOffset, int count)
    {
        const int MaxDigits = 20; // a long's digits
        Span<byte> head = stackalloc byte[32]; // {"id":"<partition>:
        Span<byte> middle = stackalloc byte[48]; // ","partition":<partition>,"offset":
        var headLength = Concat(head, "{\"id\":\""u8, partition, ":"u8);
        var middleLength = Concat(middle, "\",\"partition\":"u8, partition, ",\"offset\":"u8);
        var entryMax = 1 + headLength + MaxDigits + middleLength + MaxDigits + 1; // the comma before, and the closing brace

        output.Write("{\"results\":["u8);
        var i = 0;
        while (i < count)
        {
            var span = output.GetSpan(Math.Max(entryMax, 4096));
            var written = 0;
            for (; i < count && span.Length - written >= entryMax; i++)
            {
                if (i > 0)
                {
                    span[written++] = (byte)',';
                }

                head[..headLength].CopyTo(span[written..]);
                written += headLength;
                (baseOffset + i).TryFormat(span[written..], out var digits, provider: System.Globalization.CultureInfo.InvariantCulture);
                var offset = span.Slice(written, digits);
                written += digits;
                middle[..middleLength].CopyTo(span[written..]);
                written += middleLength;
                offset.CopyTo(span[written..]);
                written += digits;
                span[written++] = (byte)'}';
            }

            output.Advance(written);
        }

        output.Write("]}"u8);
    }

    private static int Concat(Span<byte> into, ReadOnlySpan<byte> before, int number, ReadOnlySpan<byte> after)
    {
        before.CopyTo(into);
        number.TryFormat(into[before.Length..], out var digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        after.CopyTo(into[(before.Length + digits)..]);
        return before.Length + digits + after.Length;
    }
}
