using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// The JSON form of replicated records that sinks writing documents share (the http sink's bodies, the s3 sink's
/// objects), so a consumer reads both the same way: <c>{topic, partition, offset, key|keyBase64, value|valueBase64,
/// headers, publishTime}</c>, bytes as text when they are valid UTF-8, else base64; a tombstone's value is null.
/// </summary>
public static class SinkRecordJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// A JSON array of the records, or NDJSON (one record per line, each line ending with <c>\n</c>), in a pooled buffer
    /// sized for the batch (the caller disposes it).
    /// </summary>
    public static SinkBuffer Encode(IReadOnlyList<SinkRecord> records, bool ndjson)
    {
        var buffer = new SinkBuffer(EncodedSizeHint(records));
        try
        {
            Write(buffer, records, ndjson);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    // Key, value and header bytes plus the field names, offsets and time around them (about 150 bytes a record), so
    // that a batch of text values is written without growing the buffer; escaped or base64 values grow it once or twice.
    private static int EncodedSizeHint(IReadOnlyList<SinkRecord> records)
    {
        long size = 16;
        foreach (var r in records)
        {
            var t = r.Topic;
            size += r.Bytes + 160 + t.Tenant.Length + t.Namespace.Length + t.Name.Length;
        }

        return (int)Math.Min(size, Array.MaxLength / 2);
    }

    /// <summary><see cref="Encode"/> into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<SinkRecord> records, bool ndjson)
    {
        using var writer = new Utf8JsonWriter(output, WriterOptions);
        if (!ndjson)
        {
            writer.WriteStartArray();
        }

        // A batch is one topic's: its name is made once, not per record.
        TopicName? lastTopic = null;
        var topicText = "";
        foreach (var r in records)
        {
            if (lastTopic != r.Topic)
            {
                lastTopic = r.Topic;
                topicText = r.Topic.ToString();
            }

            writer.WriteStartObject();
            writer.WriteString("topic", topicText);
            writer.WriteNumber("partition", r.Partition);
            writer.WriteNumber("offset", r.Offset);
            if (r.Key is { } key)
            {
                WriteBytes(writer, "key", "keyBase64", key.Span);
            }

            if (r.Value is { } value)
            {
                WriteBytes(writer, "value", "valueBase64", value.Span);
            }
            else
            {
                writer.WriteNull("value");
            }

            writer.WriteStartObject("headers");
            foreach (var (name, headerValue) in r.Headers)
            {
                writer.WriteString(name, headerValue);
            }

            writer.WriteEndObject();
            writer.WriteString("publishTime", r.PublishTime);
            writer.WriteEndObject();
            if (ndjson)
            {
                writer.Flush();
                output.Write("\n"u8);
                writer.Reset();
            }
        }

        if (!ndjson)
        {
            writer.WriteEndArray();
        }

        writer.Flush();
    }

    private static void WriteBytes(Utf8JsonWriter writer, string textName, string base64Name, ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
        {
            writer.WriteString(textName, bytes);
        }
        else
        {
            writer.WriteBase64String(base64Name, bytes);
        }
    }
}
