using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Filters;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Webhooks;

/// <summary>
/// Webhook registrations in the internal compacted topic (one partition), like the engine's own state:
/// <code>
/// __sluice/system/webhooks   key "{id}"   value JSON WebhookRecord (secret included), null = deleted
/// </code>
/// So a gateway keeps no state of its own and a fleet shares registrations through the backend.
/// </summary>
internal sealed class WebhookStore(IMessageLog log)
{
    public static readonly TopicName Topic = new("__sluice", "system", "webhooks");

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly RegistrationTopic<WebhookDefinition> _topic = new(log, Topic, Decode);

    /// <summary>Every stored registration, and the offset after the last record read (where a fleet member follows on).</summary>
    public ValueTask<(List<WebhookDefinition> Items, long Next)> LoadAsync(CancellationToken cancellationToken) => _topic.LoadAsync(cancellationToken);

    public ValueTask SaveAsync(WebhookDefinition webhook, CancellationToken cancellationToken) => _topic.PutAsync(webhook.Id, Encode(webhook), cancellationToken);

    public ValueTask DeleteAsync(string id, CancellationToken cancellationToken) => _topic.PutAsync(id, null, cancellationToken);

    /// <summary>What a followed record changes here (see <see cref="RegistrationTopic{T}.Change"/>).</summary>
    public (string Key, WebhookDefinition? Changed)? Change(StoredRecord record, Func<string, WebhookDefinition?> current) => _topic.Change(record, current, Encode);

    internal static byte[] Encode(WebhookDefinition w) => JsonSerializer.SerializeToUtf8Bytes(
        new WebhookRecord
        {
            Version = 1,
            Id = w.Id,
            Topic = w.Topic.ToString(),
            Subscription = w.Subscription,
            OwnsSubscription = w.OwnsSubscription,
            Url = w.Url.OriginalString,
            Headers = w.Headers.Count == 0 ? null : new Dictionary<string, string>(w.Headers),
            Secret = w.Secret,
            TimeoutMs = (long)w.Timeout.TotalMilliseconds,
            Concurrency = w.Concurrency,
            Ordering = (int)w.Ordering,
            InitialIntervalMs = (long)w.Retry.InitialInterval.TotalMilliseconds,
            MaxIntervalMs = (long)w.Retry.MaxInterval.TotalMilliseconds,
            MaxAttempts = w.Retry.MaxAttempts,
            MaxAgeMs = (long)w.Retry.MaxAge.TotalMilliseconds,
            DeadLetterTopic = w.DeadLetterTopic?.ToString(),
            Filter = w.Filter?.Text,
            Paused = w.Paused,
            CreatedAt = w.CreatedAt,
            Dialect = w.Dialect == WebhookDialect.Sluice ? null : (int)w.Dialect,
        },
        Json);

    internal static WebhookDefinition? Decode(ReadOnlySpan<byte> value)
    {
        try
        {
            var r = JsonSerializer.Deserialize<WebhookRecord>(value, Json);
            if (r is null || r.Version != 1)
            {
                return null;
            }

            return new WebhookDefinition
            {
                Id = r.Id,
                Topic = TopicName.Parse(r.Topic),
                Subscription = r.Subscription,
                OwnsSubscription = r.OwnsSubscription,
                Url = new Uri(r.Url, UriKind.Absolute),
                Headers = r.Headers ?? [],
                Secret = r.Secret,
                Timeout = TimeSpan.FromMilliseconds(r.TimeoutMs),
                Concurrency = r.Concurrency,
                Ordering = (WebhookOrdering)r.Ordering,
                Retry = new WebhookRetryPolicy
                {
                    InitialInterval = TimeSpan.FromMilliseconds(r.InitialIntervalMs),
                    MaxInterval = TimeSpan.FromMilliseconds(r.MaxIntervalMs),
                    MaxAttempts = r.MaxAttempts,
                    MaxAge = TimeSpan.FromMilliseconds(r.MaxAgeMs),
                },
                DeadLetterTopic = r.DeadLetterTopic is null ? null : TopicName.Parse(r.DeadLetterTopic),
                Filter = r.Filter is null ? null : MessageFilter.Parse(r.Filter),
                Paused = r.Paused,
                CreatedAt = r.CreatedAt,
                Dialect = (WebhookDialect)(r.Dialect ?? 0),
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidNameException or UriFormatException or FilterSyntaxException)
        {
            return null;
        }
    }

    private sealed class WebhookRecord
    {
        [JsonPropertyName("v")]
        public int Version { get; set; }

        public string Id { get; set; } = "";

        public string Topic { get; set; } = "";

        public string Subscription { get; set; } = "";

        public bool OwnsSubscription { get; set; }

        public string Url { get; set; } = "";

        public Dictionary<string, string>? Headers { get; set; }

        public string Secret { get; set; } = "";

        public long TimeoutMs { get; set; }

        public int Concurrency { get; set; }

        public int Ordering { get; set; }

        public long InitialIntervalMs { get; set; }

        public long MaxIntervalMs { get; set; }

        public int MaxAttempts { get; set; }

        public long MaxAgeMs { get; set; }

        public string? DeadLetterTopic { get; set; }

        public string? Filter { get; set; }

        public bool Paused { get; set; }

        public DateTimeOffset CreatedAt { get; set; }

        // Absent (older records, Sluice's own webhooks) is WebhookDialect.Sluice.
        public int? Dialect { get; set; }
    }
}
