using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
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
        writer.WriteString(IdName, text[..FormatMessageId(text, delivery.Partition, record.Offset)]);
        writer.WriteNumber(PartitionName, delivery.Partition);
        WriteRecordFields(writer, record);
        writer.WriteNumber(DeliveryAttemptName, delivery.DeliveryAttempt);
        writer.WriteEndObject();
    }

    /// <summary>
    /// A message read without a subscription, as <see cref="ToMessage(int, StoredRecord)"/> serializes: <c>id</c>,
    /// <c>partition</c> and the record's fields, without a string or dictionary per message.
    /// </summary>
    public static void WriteRead(Utf8JsonWriter writer, int partition, StoredRecord record)
    {
        writer.WriteStartObject();
        Span<byte> text = stackalloc byte[MaxMessageIdBytes];
        writer.WriteString(IdName, text[..FormatMessageId(text, partition, record.Offset)]);
        writer.WriteNumber(PartitionName, partition);
        WriteRecordFields(writer, record);
        writer.WriteEndObject();
    }

    /// <summary>Most bytes a message id (<see cref="FormatMessageId"/>) takes: two numbers and a colon.</summary>
    public const int MaxMessageIdBytes = 32;

    /// <summary>
    /// The message id clients see, <c>partition:offset</c>, as UTF-8 into <paramref name="destination"/> (at least
    /// <see cref="MaxMessageIdBytes"/> long); returns its length.
    /// </summary>
    public static int FormatMessageId(Span<byte> destination, int partition, long offset)
    {
        Utf8Formatter.TryFormat(partition, destination, out var n);
        destination[n++] = (byte)':';
        Utf8Formatter.TryFormat(offset, destination[n..], out var m);
        return n + m;
    }

    /// <summary>
    /// Writes one delivery's object into <paramref name="output"/>, the bytes of <see cref="Write"/>: by hand when every
    /// text in it is plain (see <see cref="TryWritePlain"/>; the pull's and the WebSocket's common case), else through
    /// <paramref name="fallback"/> (made on first need, kept by the caller for its next messages), reset onto
    /// <paramref name="output"/> and flushed.
    /// </summary>
    public static void WriteTo(IBufferWriter<byte> output, Delivery delivery, ref Utf8JsonWriter? fallback)
    {
        var record = delivery.Record;
        var most = PlainOverheadBytes + (record.Key?.Length ?? 0) + (record.Value?.Length ?? 0);
        foreach (var (headerName, headerValue) in record.Headers)
        {
            most += headerName.Length + headerValue.Length + 6;
        }

        if (TryWritePlain(output.GetSpan(most), delivery, out var written))
        {
            output.Advance(written);
            return;
        }

        fallback ??= new Utf8JsonWriter(output, SharedWriterOptions);
        fallback.Reset(output);
        Write(fallback, delivery);
        fallback.Flush();
    }

    /// <summary>
    /// The bytes of <see cref="Write"/>, put together without a JSON writer, when nothing in the message needs escaping
    /// or base64: key, value, header names and values printable ASCII other than <c>"</c> and <c>\</c> (which every
    /// encoder writes as they are), header names distinct. False, with nothing written, otherwise or when
    /// <paramref name="destination"/> is too small.
    /// </summary>
    public static bool TryWritePlain(Span<byte> destination, Delivery delivery, out int written)
    {
        written = 0;
        var record = delivery.Record;
        var d = destination;
        var n = 0;
        if (!TryPutHead(d, ref n, delivery) || !Put(d, ref n, ",\"offset\":"u8) || !Number(d, ref n, record.Offset))
        {
            return false;
        }

        if (record.Key is { } key && !(PlainText(key.Span) && Put(d, ref n, ",\"key\":\""u8) && Put(d, ref n, key.Span) && Put(d, ref n, "\",\"keyEncoding\":\"utf8\""u8)))
        {
            return false;
        }

        if (record.Value is { } value
            ? !(PlainText(value.Span) && Put(d, ref n, ",\"value\":\""u8) && Put(d, ref n, value.Span) && Put(d, ref n, "\",\"valueEncoding\":\"utf8\""u8))
            : !Put(d, ref n, ",\"value\":null,\"valueEncoding\":\"utf8\""u8))
        {
            return false;
        }

        if (!Put(d, ref n, ",\"headers\":{"u8) || !TryPutHeaders(d, ref n, record.Headers)
            || !Put(d, ref n, "},\"publishTime\":\""u8) || !Timestamp(d, ref n, record.Timestamp)
            || !Put(d, ref n, "\",\"deliveryAttempt\":"u8) || !Number(d, ref n, delivery.DeliveryAttempt) || !Put(d, ref n, "}"u8))
        {
            return false;
        }

        written = n;
        return true;
    }

    // Most bytes TryWritePlain writes beyond key, value and headers (names, ids, numbers, timestamp).
    private const int PlainOverheadBytes = 384;

    // Plain names and values, each name once (a repeated name would need the serializer's dictionary: first place, last value).
    private static bool TryPutHeaders(Span<byte> d, ref int n, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        if (headers.Count > 8)
        {
            return false;
        }

        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            for (var j = 0; j < i; j++)
            {
                if (string.Equals(headers[j].Key, name, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            if (!PlainText(name) || !PlainText(value) || (i > 0 && !Put(d, ref n, ","u8)) || !Put(d, ref n, "\""u8)
                || !Ascii(d, ref n, name) || !Put(d, ref n, "\":\""u8) || !Ascii(d, ref n, value) || !Put(d, ref n, "\""u8))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Ascii(Span<byte> destination, ref int n, string text)
    {
        if (text.Length > destination.Length - n)
        {
            return false;
        }

        System.Text.Ascii.FromUtf16(text, destination[n..], out var w);
        n += w;
        return true;
    }

    // As Utf8JsonWriter writes a DateTimeOffset: round-trip format, the fraction's trailing zeros cut (all of it when zero).
    private static bool Timestamp(Span<byte> destination, ref int n, DateTimeOffset value)
    {
        var d = destination[n..];
        if (!Utf8Formatter.TryFormat(value, d, out var w, new StandardFormat('O')))
        {
            return false;
        }

        // yyyy-MM-ddTHH:mm:ss.fffffff then the offset: the fraction is bytes 20..26.
        const int Fraction = 20;
        var digits = 7;
        while (digits > 0 && d[Fraction + digits - 1] == (byte)'0')
        {
            digits--;
        }

        if (digits < 7)
        {
            var keep = digits == 0 ? Fraction - 1 : Fraction + digits;
            d[(Fraction + 7)..w].CopyTo(d[keep..]);
            w -= Fraction + 7 - keep;
        }

        n += w;
        return true;
    }

    private static bool PlainText(ReadOnlySpan<byte> text) => !text.ContainsAnyExcept(PlainTextBytes);

    private static bool PlainText(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(PlainTextChars);

    // Printable ASCII but the quote and the backslash: no JSON encoder escapes these, and they are valid UTF-8 as they are.
    private static readonly SearchValues<byte> PlainTextBytes = SearchValues.Create(PlainTextAlphabet());

    private static readonly SearchValues<char> PlainTextChars = SearchValues.Create(System.Text.Encoding.ASCII.GetString(PlainTextAlphabet()));

    private static byte[] PlainTextAlphabet() => [.. Enumerable.Range(0x20, 0x7f - 0x20).Where(b => b is not '"' and not '\\').Select(b => (byte)b)];

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
    /// The same bytes as <see cref="Write"/> writes, assembled from the record's part encoded once per record and shared
    /// by every delivery of it (a fan-out to a thousand subscriptions encodes each message once, not a thousand times),
    /// with that part looked up (<see cref="Shared"/>) and the ack id formatted already (an SSE event writes it in its
    /// <c>id:</c> line too). False, writing nothing, when <paramref name="destination"/> is too small, the shared part is
    /// another partition's, or the ack id would need JSON escaping (never the engine's ids): then use <see cref="Write"/>.
    /// </summary>
    public static bool TryWriteShared(Span<byte> destination, Delivery delivery, SharedRecord shared, ReadOnlySpan<byte> ackId, out int written)
    {
        written = 0;
        var d = destination;
        var n = 0;
        if (shared.Partition != delivery.Partition || !PlainText(ackId)
            || !Put(d, ref n, "{\"ackId\":\""u8) || !Put(d, ref n, ackId) || !Put(d, ref n, "\","u8) || !Put(d, ref n, shared.Utf8)
            || !Put(d, ref n, ",\"deliveryAttempt\":"u8) || !Number(d, ref n, delivery.DeliveryAttempt) || !Put(d, ref n, "}"u8))
        {
            return false;
        }

        written = n;
        return true;
    }

    // {"ackId":"…","id":"p:o","partition":p — the start of the plain form; false when the ack id would need escaping.
    private static bool TryPutHead(Span<byte> d, ref int n, Delivery delivery)
    {
        if (!Put(d, ref n, "{\"ackId\":\""u8) || !delivery.TryFormatAckId(d[n..], out var w) || !PlainText(d.Slice(n, w)))
        {
            return false;
        }

        n += w;
        return Put(d, ref n, "\","u8) && TryPutPosition(d, ref n, delivery.Partition, delivery.Record.Offset);
    }

    // "id":"p:o","partition":p — what follows the ack id in both hand-made forms.
    private static bool TryPutPosition(Span<byte> d, ref int n, int partition, long offset)
        => Put(d, ref n, "\"id\":\""u8) && Number(d, ref n, partition) && Put(d, ref n, ":"u8)
            && Number(d, ref n, offset) && Put(d, ref n, "\",\"partition\":"u8) && Number(d, ref n, partition);

    /// <summary>Most bytes <see cref="TryWriteShared(Span{byte}, Delivery, SharedRecord, ReadOnlySpan{byte}, out int)"/> may need beyond the shared part and the ack id.</summary>
    public static int SharedOverheadBytes => 64;

    /// <summary>
    /// What every delivery of a record on <paramref name="partition"/> writes alike, between its ack id and its attempt:
    /// <c>"id":"p:o","partition":p,</c> and the record's fields, encoded on first use and kept with the record.
    /// </summary>
    public static SharedRecord Shared(StoredRecord record, int partition)
    {
        if (EncodedRecords.TryGetValue(record, out var shared))
        {
            // A record object is read from one partition; a different one here is encoded again, not cached.
            return shared.Partition == partition ? shared : EncodeShared(record, partition);
        }

        // Two streams encoding the same record at once make equal bytes: whichever is added, each uses its own.
        shared = EncodeShared(record, partition);
        EncodedRecords.TryAdd(record, shared);
        return shared;
    }

    /// <summary>
    /// The record's shared part if one was encoded for <paramref name="partition"/> already: for a writer that should not
    /// add one for a record nobody else will write (a lagging reader's, decoded for it alone).
    /// </summary>
    public static bool TryGetShared(StoredRecord record, int partition, [NotNullWhen(true)] out SharedRecord? shared)
        => EncodedRecords.TryGetValue(record, out shared) && shared.Partition == partition;

    /// <summary>A record's shared part for deliveries on <see cref="Partition"/> (<see cref="Shared"/>).</summary>
    internal sealed class SharedRecord(int partition, byte[] utf8)
    {
        public int Partition { get; } = partition;

        public byte[] Utf8 { get; } = utf8;
    }

    // Lives as long as the record does: the log's tail cache and the subscriptions' read-ahead share record objects.
    private static readonly ConditionalWeakTable<StoredRecord, SharedRecord> EncodedRecords = [];

    private static SharedRecord EncodeShared(StoredRecord record, int partition)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        var position = buffer.GetSpan(MaxIdBytes);
        var n = 0;
        TryPutPosition(position, ref n, partition, record.Offset);
        buffer.Advance(n);
        using (var writer = new Utf8JsonWriter(buffer, SharedWriterOptions))
        {
            writer.WriteStartObject();
            WriteRecordFields(writer, record);
            writer.WriteEndObject();
        }

        // Without the braces: the fields go in the middle of each delivery's object, after the position and a comma.
        var written = buffer.WrittenSpan;
        var utf8 = new byte[written.Length - 1];
        written[..n].CopyTo(utf8);
        utf8[n] = (byte)',';
        written[(n + 1)..^1].CopyTo(utf8.AsSpan(n + 1));
        return new SharedRecord(partition, utf8);
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
