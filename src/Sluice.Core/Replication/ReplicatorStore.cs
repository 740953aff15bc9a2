using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// Replicator registrations in an internal compacted topic (one partition), like webhooks:
/// <code>
/// __sluice/system/replicators   key "{name}"   value JSON ReplicatorRecord (secrets included), null = deleted
/// </code>
/// </summary>
internal sealed class ReplicatorStore(IMessageLog log)
{
    public static readonly TopicName Topic = new("__sluice", "system", "replicators");

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly RegistrationTopic<ReplicatorDefinition> _topic = new(log, Topic, Decode);

    /// <summary>Every stored registration, and the offset after the last record read (where a fleet member follows on).</summary>
    public ValueTask<(List<ReplicatorDefinition> Items, long Next)> LoadAsync(CancellationToken cancellationToken) => _topic.LoadAsync(cancellationToken);

    public ValueTask SaveAsync(ReplicatorDefinition replicator, CancellationToken cancellationToken) => _topic.PutAsync(replicator.Name, Encode(replicator), cancellationToken);

    public ValueTask DeleteAsync(string name, CancellationToken cancellationToken) => _topic.PutAsync(name, null, cancellationToken);

    /// <summary>What a followed record changes here (see <see cref="RegistrationTopic{T}.Change"/>).</summary>
    public (string Key, ReplicatorDefinition? Changed)? Change(StoredRecord record, Func<string, ReplicatorDefinition?> current) => _topic.Change(record, current, Encode);

    internal static byte[] Encode(ReplicatorDefinition r) => JsonSerializer.SerializeToUtf8Bytes(
        new ReplicatorRecord
        {
            Version = 1,
            Name = r.Name,
            Source = r.Source.ToString(),
            Position = new PositionRecord { Kind = r.Position.Kind, Offset = r.Position.Offset, Partition = r.Position.Partition, Time = r.Position.Time },
            SinkType = r.SinkType,
            Sink = r.SinkJson,
            Secrets = r.Secrets.Count == 0 ? null : new Dictionary<string, string>(r.Secrets, StringComparer.Ordinal),
            MaxRecords = r.Batch.MaxRecords,
            MaxBytes = r.Batch.MaxBytes,
            LingerMs = (long)r.Batch.Linger.TotalMilliseconds,
            InitialIntervalMs = (long)r.Retry.InitialInterval.TotalMilliseconds,
            MaxIntervalMs = (long)r.Retry.MaxInterval.TotalMilliseconds,
            MaxAttempts = r.Retry.MaxAttempts,
            DeadLetterTopic = r.DeadLetterTopic,
            Ordering = (int)r.Ordering,
            Stopped = r.Stopped,
            CreatedAt = r.CreatedAt,
        },
        Json);

    internal static ReplicatorDefinition? Decode(ReadOnlySpan<byte> value)
    {
        try
        {
            var r = JsonSerializer.Deserialize<ReplicatorRecord>(value, Json);
            if (r is null || r.Version != 1)
            {
                return null;
            }

            var parts = r.Source.Split('/');
            var source = parts.Length == 3 && parts[2] == "*" ? ReplicatorSource.ForNamespace(parts[0], parts[1]) : ReplicatorSource.ForTopic(TopicName.Parse(r.Source));
            return new ReplicatorDefinition
            {
                Name = r.Name,
                Source = source,
                Position = new StartPosition { Kind = r.Position.Kind, Offset = r.Position.Offset, Partition = r.Position.Partition, Time = r.Position.Time },
                SinkType = r.SinkType,
                SinkJson = r.Sink,
                Secrets = r.Secrets ?? new Dictionary<string, string>(StringComparer.Ordinal),
                Batch = new ReplicatorBatchPolicy { MaxRecords = r.MaxRecords, MaxBytes = r.MaxBytes, Linger = TimeSpan.FromMilliseconds(r.LingerMs) },
                Retry = new ReplicatorRetryPolicy
                {
                    InitialInterval = TimeSpan.FromMilliseconds(r.InitialIntervalMs),
                    MaxInterval = TimeSpan.FromMilliseconds(r.MaxIntervalMs),
                    MaxAttempts = r.MaxAttempts,
                },
                DeadLetterTopic = r.DeadLetterTopic,
                Ordering = (ReplicatorOrdering)r.Ordering,
                Stopped = r.Stopped,
                CreatedAt = r.CreatedAt,
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidNameException)
        {
            return null;
        }
    }

    private sealed class ReplicatorRecord
    {
        [JsonPropertyName("v")]
        public int Version { get; set; }

        public string Name { get; set; } = "";

        public string Source { get; set; } = "";

        public PositionRecord Position { get; set; } = new();

        public string SinkType { get; set; } = "";

        public string Sink { get; set; } = "{}";

        public Dictionary<string, string>? Secrets { get; set; }

        public int MaxRecords { get; set; }

        public int MaxBytes { get; set; }

        public long LingerMs { get; set; }

        public long InitialIntervalMs { get; set; }

        public long MaxIntervalMs { get; set; }

        public int MaxAttempts { get; set; }

        public string? DeadLetterTopic { get; set; }

        public int Ordering { get; set; }

        public bool Stopped { get; set; }

        public DateTimeOffset CreatedAt { get; set; }
    }

    private sealed class PositionRecord
    {
        public StartPositionKind Kind { get; set; }

        public long? Offset { get; set; }

        public int? Partition { get; set; }

        public DateTimeOffset? Time { get; set; }
    }
}
