using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Filters;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The internal compacted topics that hold the engine's durable state (one partition each):
/// <code>
/// __sluice/system/subscriptions   key "{topic}|{name}"              value JSON SubscriptionRecord, null = deleted
/// __sluice/system/cursors         key "{topic}|{name}|{partition}"  value PartitionCursor encoding, null = deleted
/// __sluice/system/acks            key "{topic}|{name}"              value JSON ForwardedAcks (fleet only; not compacted, kept an hour)
/// </code>
/// On start each is read from its start to its end; the last value per key wins.
/// </summary>
internal static class StateTopics
{
    public static readonly TopicName Subscriptions = new("__sluice", "system", "subscriptions");

    public static readonly TopicName Cursors = new("__sluice", "system", "cursors");

    /// <summary>Acks and nacks received by a fleet member for partitions another member delivers.</summary>
    public static readonly TopicName Acks = new("__sluice", "system", "acks");

    public static readonly TopicSettings Settings = new() { Partitions = 1, Compacted = true };

    /// <summary>An hour: a forwarded ack is applied within moments or, if its owner died, is moot (redelivered anyway).</summary>
    public static readonly TopicSettings AcksSettings = new() { Partitions = 1, RetentionTime = TimeSpan.FromHours(1) };

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string SubscriptionKey(TopicName topic, string name) => $"{topic}|{name}";

    /// <summary>The length of <see cref="SubscriptionKey"/>'s answer, for writing it without making the string.</summary>
    public static int SubscriptionKeyLength(TopicName topic, string name) => topic.Tenant.Length + topic.Namespace.Length + topic.Name.Length + name.Length + 3;

    /// <summary><see cref="SubscriptionKey"/> written into <paramref name="destination"/> (at least <see cref="SubscriptionKeyLength"/> long).</summary>
    public static ReadOnlySpan<char> WriteSubscriptionKey(TopicName topic, string name, Span<char> destination)
    {
        if (!destination.TryWrite($"{topic.Tenant}/{topic.Namespace}/{topic.Name}|{name}", out var written))
        {
            throw new ArgumentException("too short for the key", nameof(destination));
        }

        return destination[..written];
    }

    public static string CursorKey(TopicName topic, string name, int partition) => $"{topic}|{name}|{partition}";

    public static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    public static byte[] EncodeSubscription(SubscriptionSettings settings, long generation, long seekToken = 0, IReadOnlyDictionary<int, long>? seekOffsets = null)
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
                Filter = settings.Filter?.Text,
                SeekToken = seekToken == 0 ? null : seekToken,
                SeekOffsets = seekOffsets is null ? null : new Dictionary<int, long>(seekOffsets),
            },
            Json);

    public static bool TryDecodeSubscription(ReadOnlySpan<byte> value, out SubscriptionSettings settings, out long generation)
        => TryDecodeSubscription(value, out settings, out generation, out _, out _);

    /// <summary>Also returns the last seek: its token and the offsets it moved the partitions to (a fleet member applies it).</summary>
    public static bool TryDecodeSubscription(ReadOnlySpan<byte> value, out SubscriptionSettings settings, out long generation, out long seekToken, out IReadOnlyDictionary<int, long>? seekOffsets)
    {
        settings = null!;
        generation = 0;
        seekToken = 0;
        seekOffsets = null;
        try
        {
            var r = JsonSerializer.Deserialize<SubscriptionRecord>(value, Json);
            if (r is null || r.Version != 1)
            {
                return false;
            }

            generation = r.Generation;
            seekToken = r.SeekToken ?? 0;
            seekOffsets = r.SeekOffsets;
            settings = new SubscriptionSettings
            {
                Type = r.Type,
                Position = new StartPosition { Kind = r.Position.Kind, Offset = r.Position.Offset, Partition = r.Position.Partition, Time = r.Position.Time },
                AckDeadline = TimeSpan.FromMilliseconds(r.AckDeadlineMs),
                MaxDeliveries = r.MaxDeliveries,
                DeadLetterTopic = r.DeadLetterTopic is null ? null : TopicName.Parse(r.DeadLetterTopic),

                // A filter this version cannot read leaves the record ignored (and logged): delivering everything instead
                // would hand consumers messages they never asked for.
                Filter = r.Filter is null ? null : MessageFilter.Parse(r.Filter),
            };
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidNameException or FilterSyntaxException)
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
        => (await LoadWithPositionAsync(log, topic, cancellationToken).ConfigureAwait(false)).Values;

    /// <summary>As <see cref="LoadAsync"/>, also returning the offset after the last record read (where following goes on).</summary>
    public static async ValueTask<(Dictionary<string, ReadOnlyMemory<byte>?> Values, long Next)> LoadWithPositionAsync(IMessageLog log, TopicName topic, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ReadOnlyMemory<byte>?>(StringComparer.Ordinal);
        var info = await log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        var p = info.Partitions[0];
        var offset = p.StartOffset;
        while (offset < p.EndOffset)
        {
            // 4096 records / 4 MiB per read: state records are small; this keeps start-up to a few reads per MiB.
            ReadResult read;
            try
            {
                read = await log.ReadAsync(topic, 0, offset, 4096, 4 * 1024 * 1024, cancellationToken).ConfigureAwait(false);
            }
            catch (CorruptRecordsException ex)
            {
                // Damaged state records (the log reports them): their keys keep an older value, if any. Better than no start.
                offset = ex.ToOffset;
                continue;
            }

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

        return (result, offset);
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

        /// <summary>The filter as the user wrote it; absent for none (records written before filters existed).</summary>
        public string? Filter { get; set; }

        public long? SeekToken { get; set; }

        public Dictionary<int, long>? SeekOffsets { get; set; }
    }

    private sealed class PositionRecord
    {
        public StartPositionKind Kind { get; set; }

        public long? Offset { get; set; }

        public int? Partition { get; set; }

        public DateTimeOffset? Time { get; set; }
    }
}
