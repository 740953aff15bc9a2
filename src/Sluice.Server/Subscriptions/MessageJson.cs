using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Server.Streaming;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// The one place a stored message becomes its JSON object: pull, SSE and WebSocket write <see cref="ToMessage(Delivery)"/>,
/// the subscription-less reader writes <see cref="ToMessage(int, StoredRecord)"/> (the same fields less ack id and attempt).
/// Key and value are UTF-8 text when they are valid UTF-8, else base64 (said by <c>keyEncoding</c> / <c>valueEncoding</c>).
/// </summary>
internal static class MessageJson
{
    public static PulledMessage ToMessage(Delivery delivery)
    {
        var record = delivery.Record;
        var (key, keyEncoding, value, valueEncoding, headers) = Fields(record);
        return new PulledMessage(
            delivery.AckId,
            delivery.MessageId,
            delivery.Partition,
            record.Offset,
            key,
            keyEncoding,
            value,
            valueEncoding,
            headers,
            record.Timestamp,
            delivery.DeliveryAttempt);
    }

    /// <summary>
    /// Writes the object <see cref="ToMessage(Delivery)"/> serializes to, byte for byte, straight from the delivery: the
    /// streaming hot path (an SSE fan-out writes one per subscriber per message), without the intermediate objects and
    /// the serializer's per-call state. The names and order follow <see cref="PulledMessage"/> (pinned by a test).
    /// </summary>
    public static void Write(Utf8JsonWriter writer, Delivery delivery)
    {
        var record = delivery.Record;
        writer.WriteStartObject();
        Span<byte> text = stackalloc byte[MaxIdBytes];
        if (delivery.TryFormatAckId(text, out var n))
        {
            writer.WriteString(AckIdName, text[..n]);
        }
        else
        {
            writer.WriteString(AckIdName, delivery.AckId);
        }

        // The message id, partition:offset, formatted in place rather than as a string per delivery.
        Utf8Formatter.TryFormat(delivery.Partition, text, out n);
        text[n++] = (byte)':';
        Utf8Formatter.TryFormat(record.Offset, text[n..], out var m);
        writer.WriteString(IdName, text[..(n + m)]);
        writer.WriteNumber(PartitionName, delivery.Partition);
        WriteRecordFields(writer, record);
        writer.WriteNumber(DeliveryAttemptName, delivery.DeliveryAttempt);
        writer.WriteEndObject();
    }

    // offset .. publishTime: the fields that depend on the record alone, in PulledMessage's order.
    private static void WriteRecordFields(Utf8JsonWriter writer, StoredRecord record)
    {
        writer.WriteNumber(OffsetName, record.Offset);
        if (record.Key is { } k)
        {
            WriteBytes(writer, KeyName, KeyEncodingName, k.Span);
        }

        if (record.Value is { } v)
        {
            WriteBytes(writer, ValueName, ValueEncodingName, v.Span);
        }
        else
        {
            writer.WriteNull(ValueName);
            writer.WriteString(ValueEncodingName, "utf8");
        }

        writer.WritePropertyName(HeadersName);
        writer.WriteStartObject();
        if (record.Headers.Count > 0)
        {
            // As the dictionary the serializer writes: a repeated name keeps its first place and its last value.
            var headers = new Dictionary<string, string>(record.Headers.Count, StringComparer.Ordinal);
            foreach (var (headerName, headerValue) in record.Headers)
            {
                headers[headerName] = headerValue;
            }

            foreach (var (headerName, headerValue) in headers)
            {
                writer.WriteString(headerName, headerValue);
            }
        }

        writer.WriteEndObject();
        writer.WriteString(PublishTimeName, record.Timestamp);
    }

    /// <summary>
    /// The same bytes as <see cref="Write"/> writes, assembled from the record's fields encoded once per record and
    /// shared by every delivery of it (a fan-out to a thousand subscriptions encodes each message once, not a thousand
    /// times). False, writing nothing, when <paramref name="destination"/> is too small or the ack id would need JSON
    /// escaping (never for the engine's ids): then use <see cref="Write"/>.
    /// </summary>
    public static bool TryWriteShared(Span<byte> destination, Delivery delivery, out int written)
        => TryWriteShared(destination, delivery, SharedFields(delivery.Record), out written);

    /// <summary>As above, with the record's <see cref="SharedFields"/> looked up already (to size the destination).</summary>
    public static bool TryWriteShared(Span<byte> destination, Delivery delivery, byte[] fields, out int written)
    {
        written = 0;
        var d = destination;
        var n = 0;
        if (!Put(d, ref n, "{\"ackId\":\""u8) || !delivery.TryFormatAckId(d[n..], out var w) || !IsPlain(d.Slice(n, w)))
        {
            return false;
        }

        n += w;
        if (!Put(d, ref n, "\",\"id\":\""u8) || !Number(d, ref n, delivery.Partition) || !Put(d, ref n, ":"u8)
            || !Number(d, ref n, delivery.Record.Offset) || !Put(d, ref n, "\",\"partition\":"u8) || !Number(d, ref n, delivery.Partition)
            || !Put(d, ref n, ","u8) || !Put(d, ref n, fields) || !Put(d, ref n, ",\"deliveryAttempt\":"u8)
            || !Number(d, ref n, delivery.DeliveryAttempt) || !Put(d, ref n, "}"u8))
        {
            return false;
        }

        written = n;
        return true;
    }

    /// <summary>Most bytes <see cref="TryWriteShared(Span{byte}, Delivery, out int)"/> may need beyond the record's encoded fields.</summary>
    public static int SharedOverheadBytes => 256;

    /// <summary>The record's encoded fields, computed on first use and kept with the record.</summary>
    public static byte[] SharedFields(StoredRecord record) => EncodedFields.GetValue(record, EncodeFields);

    // Lives as long as the record does: the log's tail cache and the subscriptions' read-ahead share record objects.
    private static readonly ConditionalWeakTable<StoredRecord, byte[]> EncodedFields = [];

    private static byte[] EncodeFields(StoredRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, SharedWriterOptions))
        {
            writer.WriteStartObject();
            WriteRecordFields(writer, record);
            writer.WriteEndObject();
        }

        // Without the braces: the fields go in the middle of each delivery's object.
        return buffer.WrittenSpan[1..^1].ToArray();
    }

    // The options every streaming writer uses (SseWriter), so shared and per-delivery bytes are the same.
    public static readonly JsonWriterOptions SharedWriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    private static bool Put(Span<byte> destination, ref int n, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.TryCopyTo(destination[n..]))
        {
            return false;
        }

        n += bytes.Length;
        return true;
    }

    private static bool Number(Span<byte> destination, ref int n, long value)
    {
        if (!Utf8Formatter.TryFormat(value, destination[n..], out var w))
        {
            return false;
        }

        n += w;
        return true;
    }

    // Letters, digits, '.', '-', '_': written into a JSON string as they are.
    private static bool IsPlain(ReadOnlySpan<byte> text) => !text.ContainsAnyExcept(PlainBytes);

    private static readonly SearchValues<byte> PlainBytes = SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_"u8);

    // Longest engine ack id (hex generation and epoch, partition, offset, attempt) and message id, with room to spare.
    private const int MaxIdBytes = 128;

    private static readonly JsonEncodedText AckIdName = JsonEncodedText.Encode("ackId");
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText PartitionName = JsonEncodedText.Encode("partition");
    private static readonly JsonEncodedText OffsetName = JsonEncodedText.Encode("offset");
    private static readonly JsonEncodedText KeyName = JsonEncodedText.Encode("key");
    private static readonly JsonEncodedText KeyEncodingName = JsonEncodedText.Encode("keyEncoding");
    private static readonly JsonEncodedText ValueName = JsonEncodedText.Encode("value");
    private static readonly JsonEncodedText ValueEncodingName = JsonEncodedText.Encode("valueEncoding");
    private static readonly JsonEncodedText HeadersName = JsonEncodedText.Encode("headers");
    private static readonly JsonEncodedText PublishTimeName = JsonEncodedText.Encode("publishTime");
    private static readonly JsonEncodedText DeliveryAttemptName = JsonEncodedText.Encode("deliveryAttempt");

    // The UTF-8 text as a JSON string (escaped like the same text as a .NET string), or base64.
    private static void WriteBytes(Utf8JsonWriter writer, JsonEncodedText name, JsonEncodedText encodingName, ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
        {
            writer.WriteString(name, bytes);
            writer.WriteString(encodingName, "utf8");
        }
        else
        {
            writer.WriteBase64String(name, bytes);
            writer.WriteString(encodingName, "base64");
        }
    }

    public static ReadMessage ToMessage(int partition, StoredRecord record)
    {
        var (key, keyEncoding, value, valueEncoding, headers) = Fields(record);
        return new ReadMessage($"{partition}:{record.Offset}", partition, record.Offset, key, keyEncoding, value, valueEncoding, headers, record.Timestamp);
    }

    private static (string? Key, string? KeyEncoding, string? Value, string ValueEncoding, Dictionary<string, string> Headers) Fields(StoredRecord record)
    {
        string? key = null;
        string? keyEncoding = null;
        if (record.Key is { } k)
        {
            (key, keyEncoding) = Encode(k.Span);
        }

        string? value = null;
        var valueEncoding = "utf8";
        if (record.Value is { } v)
        {
            (value, valueEncoding) = Encode(v.Span);
        }

        var headers = new Dictionary<string, string>(record.Headers.Count, StringComparer.Ordinal);
        foreach (var (headerName, headerValue) in record.Headers)
        {
            headers[headerName] = headerValue;
        }

        return (key, keyEncoding, value, valueEncoding, headers);
    }

    private static (string Text, string Encoding) Encode(ReadOnlySpan<byte> bytes)
        => Utf8.IsValid(bytes) ? (Encoding.UTF8.GetString(bytes), "utf8") : (Convert.ToBase64String(bytes), "base64");
}
