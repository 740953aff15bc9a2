using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Server.Delay;
using Sluice.Server.Problems;
using Sluice.Server.Produce;
using Sluice.Server.Streaming;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Hosting;

/// <summary>
/// Source-generated JSON for every request and answer. Unknown request fields are rejected, so a typo
/// (<c>"partitons"</c>) is a 400 naming the field rather than a silently ignored setting.
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ProblemResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ProduceResponse))]
[JsonSerializable(typeof(DelayedProduceResponse))]
[JsonSerializable(typeof(DelayedListResponse))]
[JsonSerializable(typeof(AcceptedResponse))]
[JsonSerializable(typeof(BatchRequest))]
[JsonSerializable(typeof(BatchRecord))]
[JsonSerializable(typeof(BatchResponse))]
[JsonSerializable(typeof(TopicRequest))]
[JsonSerializable(typeof(TopicResponse))]
[JsonSerializable(typeof(TopicListResponse))]
[JsonSerializable(typeof(SubscriptionRequest))]
[JsonSerializable(typeof(SubscriptionResponse))]
[JsonSerializable(typeof(SubscriptionListResponse))]
[JsonSerializable(typeof(PullResponse))]
[JsonSerializable(typeof(AckRequest))]
[JsonSerializable(typeof(NackRequest))]
[JsonSerializable(typeof(AckResponse))]
[JsonSerializable(typeof(NackResponse))]
[JsonSerializable(typeof(SeekRequest))]
[JsonSerializable(typeof(PulledMessage))]
[JsonSerializable(typeof(ReadMessage))]
[JsonSerializable(typeof(ReadResponse))]
[JsonSerializable(typeof(CorruptRangeResponse))]
[JsonSerializable(typeof(ConsumerFrame))]
[JsonSerializable(typeof(AckFrame))]
[JsonSerializable(typeof(ErrorFrame))]
[JsonSerializable(typeof(ProduceFrame))]
[JsonSerializable(typeof(ProduceReceipt))]
[JsonSerializable(typeof(WebhookRequest))]
[JsonSerializable(typeof(WebhookResponse))]
[JsonSerializable(typeof(WebhookListResponse))]
[JsonSerializable(typeof(WebhookStatsResponse))]
[JsonSerializable(typeof(Clusters.ClusterListResponse))]
internal sealed partial class SluiceJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The context every endpoint uses: like <see cref="JsonSerializerContext"/>'s default but writing non-ASCII text and
    /// <c>&lt; &gt; &amp; '</c> as themselves, so values and details read as sent. Quotes and control characters are still escaped.
    /// </summary>
    public static SluiceJsonContext Api { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
