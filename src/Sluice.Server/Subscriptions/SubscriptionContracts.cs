using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Subscriptions;
using Sluice.Server.Streaming;

namespace Sluice.Server.Subscriptions;

/// <summary>Body of <c>PUT .../subscriptions/{name}</c>; omitted fields take the documented defaults.</summary>
internal sealed record SubscriptionRequest(
    string? Type,
    JsonElement? Position,
    long? AckDeadlineMs,
    int? MaxDeliveries,
    string? DeadLetterTopic,
    string? Filter = null);

internal sealed record SubscriptionResponse(
    string Topic,
    string Name,
    string Type,
    long AckDeadlineMs,
    int MaxDeliveries,
    string? DeadLetterTopic,
    List<SubscriptionPartitionResponse> Partitions,
    long Backlog,
    int InFlight,
    List<ConsumerResponse> Consumers,
    string? Filter,
    long FilteredOut);

/// <summary>
/// One partition of a subscription. <see cref="Skipped"/>: damaged ranges it skipped since the server started (absent when
/// none); <see cref="StoppedAt"/>: the damaged range it stopped at under <c>subscriptions:onCorruptRecords</c> = <c>stop</c>.
/// </summary>
internal sealed record SubscriptionPartitionResponse(
    int Partition,
    long CommittedOffset,
    long EndOffset,
    long Lag,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<CorruptRangeResponse>? Skipped = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] CorruptRangeResponse? StoppedAt = null);

internal sealed record ConsumerResponse(string ConsumerId, bool Active, int InFlight, DateTimeOffset LastSeen);

internal sealed record SubscriptionListResponse(List<string> Subscriptions);

internal sealed record PullResponse(List<PulledMessage> Messages);

internal sealed record PulledMessage(
    string AckId,
    string Id,
    int Partition,
    long Offset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyEncoding,
    string? Value,
    string ValueEncoding,
    Dictionary<string, string> Headers,
    DateTimeOffset PublishTime,
    int DeliveryAttempt);

internal sealed record AckRequest([property: JsonConverter(typeof(AckIdListJsonConverter))] AckIdList? AckIds);

internal sealed record NackRequest([property: JsonConverter(typeof(AckIdListJsonConverter))] AckIdList? AckIds, long? DelayMs);

internal sealed record AckResponse(int Acked, IReadOnlyList<string> Unknown, IReadOnlyList<string> Expired);

internal sealed record NackResponse(int Nacked, IReadOnlyList<string> Unknown, IReadOnlyList<string> Expired);

internal sealed record SeekRequest(JsonElement? Position);
