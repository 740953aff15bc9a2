using System.Text;
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
