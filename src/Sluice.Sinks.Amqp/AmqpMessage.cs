using System.Globalization;
using System.Text;
using RabbitMQ.Client;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Amqp;

/// <summary>
/// How a record becomes an AMQP message:
/// <code>
///   body                value bytes as they are (empty for a tombstone, with header sluice-tombstone = true)
///   delivery-mode       2 (persistent)
///   message-id          the idempotency key {tenant}/{namespace}/{topic}/{partition}/{offset}
///   timestamp           publish time in Unix seconds (AMQP's resolution)
///   content-type        the record's content-type header, when it has one
///   headers             the record's headers (string values), then
///                       sluice-topic, sluice-partition (int), sluice-offset (long),
///                       sluice-publish-time (ISO 8601, the round-trip form), sluice-key (the key's bytes, when it has one)
/// </code>
/// A record header with one of the sluice-* names is replaced by Sluice's; a repeated header name keeps its last value
/// (an AMQP table has one value per name).
/// </summary>
internal static class AmqpMessage
{
    public const string TopicHeader = "sluice-topic";
    public const string PartitionHeader = "sluice-partition";
    public const string OffsetHeader = "sluice-offset";
    public const string PublishTimeHeader = "sluice-publish-time";
    public const string KeyHeader = "sluice-key";
    public const string TombstoneHeader = "sluice-tombstone";

    public static BasicProperties Properties(SinkRecord record)
    {
        var headers = new Dictionary<string, object?>(record.Headers.Count + 6, StringComparer.Ordinal);
        string? contentType = null;
        foreach (var (name, value) in record.Headers)
        {
            headers[name] = value;
            if (string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
        }

        headers[TopicHeader] = record.Topic.ToString();
        headers[PartitionHeader] = record.Partition;
        headers[OffsetHeader] = record.Offset;
        headers[PublishTimeHeader] = record.PublishTime.ToString("O", CultureInfo.InvariantCulture);
        if (record.Key is { } key)
        {
            // A longstr carries any bytes: the key is kept exactly, text or not.
            headers[KeyHeader] = key.ToArray();
        }

        if (record.Value is null)
        {
            headers[TombstoneHeader] = true;
        }

        return new BasicProperties
        {
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = record.IdempotencyKey,
            Timestamp = new AmqpTimestamp(record.PublishTime.ToUnixTimeSeconds()),
            ContentType = contentType is { Length: <= AmqpSinkType.MaxShortString } ? contentType : null,
            Headers = headers,
        };
    }

    /// <summary>
    /// How many records from the start of the batch AMQP can carry; <paramref name="reason"/> says why the next one cannot
    /// (a header name or the message id over AMQP's 255 bytes). That record is refused; the ones before it are sent.
    /// </summary>
    public static int Sendable(IReadOnlyList<SinkRecord> records, out string? reason)
    {
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (Encoding.UTF8.GetByteCount(record.IdempotencyKey) > AmqpSinkType.MaxShortString)
            {
                reason = $"its message id (topic/partition/offset) is longer than AMQP's {AmqpSinkType.MaxShortString} bytes";
                return i;
            }

            foreach (var (name, _) in record.Headers)
            {
                if (Encoding.UTF8.GetByteCount(name) > AmqpSinkType.MaxShortString)
                {
                    reason = $"a header name is longer than AMQP's {AmqpSinkType.MaxShortString} bytes";
                    return i;
                }
            }
        }

        reason = null;
        return records.Count;
    }
}
