using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The internal compacted topics that hold the engine's durable state (one partition each):
/// <code>
/// __sluice/system/subscriptions   key "{topic}|{name}"              value JSON SubscriptionRecord, null = deleted
/// __sluice/system/cursors         key "{topic}|{name}|{partition}"  value PartitionCursor encoding, null = deleted
/// </code>
/// On start each is read from its start to its end; the last value per key wins.
/// </summary>
internal static class StateTopics
{
    public static readonly TopicName Subscriptions = new("__sluice", "system", "subscriptions");

    public static readonly TopicName Cursors = new("__sluice", "system", "cursors");

    public static readonly TopicSettings Settings = new() { Partitions = 1, Compacted = true };

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string SubscriptionKey(TopicName topic, string name) => $"{topic}|{name}";

    public static string CursorKey(TopicName topic, string name, int partition) => $"{topic}|{name}|{partition}";

    public static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    public static byte[] EncodeSubscription(SubscriptionSettings settings, long generation)
        => JsonSerializer.SerializeToUtf8Bytes(
            new SubscriptionRecord
            {
                Version = 1,
                Generation = generation,
                Type = settings.Type,
                Position = new PositionRecord
                {
                    Kind = settings.Position.Kind,
                    Offset = settings.Position.Offset,
                    Partition = settings.Position.Partition,
                    Time = settings.Position.Time,
                },
                AckDeadlineMs = (long)settings.AckDeadline.TotalMilliseconds,
                MaxDeliveries = settings.MaxDeliveries,
                DeadLetterTopic = settings.DeadLetterTopic?.ToString(),
            },
            Json);

    public static bool TryDecodeSubscription(ReadOnlySpan<byte> value, out SubscriptionSettings settings, out long generation)
    {
        settings = null!;
        generation = 0;
        try
        {
            var r = JsonSerializer.Deserialize<SubscriptionRecord>(value, Json);
            if (r is null || r.Version != 1)
            {
                return false;
            }

            generation = r.Generation;
            settings = new SubscriptionSettings
            {
                Type = r.Type,
                Position = new StartPosition { Kind = r.Position.Kind, Offset = r.Position.Offset, Partition = r.Position.Partition, Time = r.Position.Time },
                AckDeadline = TimeSpan.FromMilliseconds(r.AckDeadlineMs),
                MaxDeliveries = r.MaxDeliveries,
                DeadLetterTopic = r.DeadLetterTopic is null ? null : TopicName.Parse(r.DeadLetterTopic),
            };
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidNameException)
        {
            return false;
        }
    }

    /// <summary>Splits a cursor key "{topic}|{name}|{partition}".</summary>
    public static bool TrySplitCursorKey(string key, out string subscriptionKey, out int partition)
    {
        var bar = key.LastIndexOf('|');
        subscriptionKey = bar > 0 ? key[..bar] : "";
        partition = -1;
        return bar > 0 && int.TryParse(key.AsSpan(bar + 1), out partition) && partition >= 0;
    }

    /// <summary>Reads a state topic from its start to its current end; the last value per key wins (null = deleted).</summary>
    public static async ValueTask<Dictionary<string, ReadOnlyMemory<byte>?>> LoadAsync(IMessageLog log, TopicName topic, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ReadOnlyMemory<byte>?>(StringComparer.Ordinal);
        var info = await log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        var p = info.Partitions[0];
        var offset = p.StartOffset;
        while (offset < p.EndOffset)
        {
            // 4096 records / 4 MiB per read: state records are small; this keeps start-up to a few reads per MiB.
            var read = await log.ReadAsync(topic, 0, offset, 4096, 4 * 1024 * 1024, cancellationToken).ConfigureAwait(false);
            foreach (var r in read.Records)
            {
                if (r.Key is { } k)
                {
                    result[Encoding.UTF8.GetString(k.Span)] = r.Value;
                }
            }

            if (read.NextOffset <= offset)
            {
                break;
            }

            offset = read.NextOffset;
        }

        return result;
    }

    private sealed class SubscriptionRecord
    {
        [JsonPropertyName("v")]
        public int Version { get; set; }

        public long Generation { get; set; }

        public SubscriptionType Type { get; set; }

        public PositionRecord Position { get; set; } = new();

        public long AckDeadlineMs { get; set; }

        public int MaxDeliveries { get; set; }

        public string? DeadLetterTopic { get; set; }
    }

    private sealed class PositionRecord
    {
        public StartPositionKind Kind { get; set; }

        public long? Offset { get; set; }

        public int? Partition { get; set; }

        public DateTimeOffset? Time { get; set; }
    }
}
