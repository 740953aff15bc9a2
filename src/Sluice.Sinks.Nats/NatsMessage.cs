using System.Globalization;
using System.Text;
using System.Text.Unicode;
using NATS.Client.Core;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Nats;

/// <summary>
/// How a record becomes a JetStream message:
/// <code>
///   payload              value bytes as they are (empty for a tombstone, with header Sluice-Tombstone: true)
///   Nats-Msg-Id          the idempotency key {tenant}/{namespace}/{topic}/{partition}/{offset}
///   headers              the record's headers, then Sluice-Topic, Sluice-Partition, Sluice-Offset,
///                        Sluice-Publish-Time (ISO 8601, the round-trip form), Sluice-Key (the key as UTF-8 text, or its
///                        base64 with Sluice-Key-Encoding: base64 when it is not printable text)
/// </code>
/// NATS header names are case-insensitive here: record headers differing only in case become one header with several
/// values. A record NATS cannot carry (a header name outside ASCII 33-126 or with ':', a value with CR or LF, a header
/// named Nats-* that JetStream would act on) is refused, never sent altered.
/// </summary>
internal static class NatsMessage
{
    public const string TopicHeader = "Sluice-Topic";
    public const string PartitionHeader = "Sluice-Partition";
    public const string OffsetHeader = "Sluice-Offset";
    public const string PublishTimeHeader = "Sluice-Publish-Time";
    public const string KeyHeader = "Sluice-Key";
    public const string KeyEncodingHeader = "Sluice-Key-Encoding";
    public const string TombstoneHeader = "Sluice-Tombstone";

    public static NatsHeaders Headers(SinkRecord record)
    {
        var headers = new NatsHeaders();
        foreach (var (name, value) in record.Headers)
        {
            if (name.StartsWith("Sluice-", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            headers[name] = headers.TryGetValue(name, out var existing) ? Microsoft.Extensions.Primitives.StringValues.Concat(existing, value) : value;
        }

        headers[TopicHeader] = record.Topic.ToString();
        headers[PartitionHeader] = record.Partition.ToString(CultureInfo.InvariantCulture);
        headers[OffsetHeader] = record.Offset.ToString(CultureInfo.InvariantCulture);
        headers[PublishTimeHeader] = record.PublishTime.ToString("O", CultureInfo.InvariantCulture);
        if (record.Key is { } key)
        {
            if (Utf8.IsValid(key.Span) && !key.Span.ContainsAnyInRange((byte)0, (byte)31) && !key.Span.Contains((byte)127))
            {
                headers[KeyHeader] = Encoding.UTF8.GetString(key.Span);
            }
            else
            {
                headers[KeyHeader] = Convert.ToBase64String(key.Span);
                headers[KeyEncodingHeader] = "base64";
            }
        }

        if (record.Value is null)
        {
            headers[TombstoneHeader] = "true";
        }

        return headers;
    }

    /// <summary>
    /// How many records from the start of the batch NATS can carry as they are; <paramref name="reason"/> says why the next
    /// one cannot. That record is refused; the ones before it are sent.
    /// </summary>
    public static int Sendable(IReadOnlyList<SinkRecord> records, out string? reason)
    {
        for (var i = 0; i < records.Count; i++)
        {
            foreach (var (name, value) in records[i].Headers)
            {
                if (!name.All(c => c is > ' ' and < (char)127 and not ':'))
                {
                    reason = $"header name '{Printable(name)}' cannot be carried by NATS (ASCII 33-126 without ':')";
                    return i;
                }

                if (name.StartsWith("Nats-", StringComparison.OrdinalIgnoreCase))
                {
                    reason = $"header '{name}' is reserved by NATS (JetStream acts on Nats-* headers)";
                    return i;
                }

                if (value.Contains('\r', StringComparison.Ordinal) || value.Contains('\n', StringComparison.Ordinal))
                {
                    reason = $"header '{name}' has a line break, which NATS headers cannot carry";
                    return i;
                }
            }
        }

        reason = null;
        return records.Count;
    }

    private static string Printable(string s) => new([.. s.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
