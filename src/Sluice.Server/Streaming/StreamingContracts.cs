using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Subscriptions;
using Sluice.Server.Problems;

namespace Sluice.Server.Streaming;

/// <summary>A message read without a subscription: a pulled message's fields less <c>ackId</c> and <c>deliveryAttempt</c>.</summary>
internal sealed record ReadMessage(
    string Id,
    int Partition,
    long Offset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyEncoding,
    string? Value,
    string ValueEncoding,
    Dictionary<string, string> Headers,
    DateTimeOffset PublishTime);

/// <summary>Answer of <c>GET .../messages?partition=&amp;offset=</c>: continue with <c>offset=nextOffset</c>.</summary>
/// <summary>
/// A replay answer. <see cref="Skipped"/> (absent when none): damaged ranges between the requested offset and the messages,
/// which the log cannot serve; the read went on after them.
/// </summary>
internal sealed record ReadResponse(
    List<ReadMessage> Messages,
    int Partition,
    long NextOffset,
    long EndOffset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<CorruptRangeResponse>? Skipped = null);

/// <summary>Offsets [fromOffset, toOffset) whose records are damaged on disk and are never served.</summary>
internal sealed record CorruptRangeResponse(long FromOffset, long ToOffset, string Reason, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] DateTimeOffset DetectedAt = default)
{
    public static CorruptRangeResponse From(Sluice.Core.Log.CorruptRange range) => new(range.FromOffset, range.ToOffset, range.Reason, range.DetectedAt);

    public static List<CorruptRangeResponse>? From(IReadOnlyList<Sluice.Core.Log.CorruptRange>? ranges)
        => ranges is null || ranges.Count == 0 ? null : [.. ranges.Select(From)];
}

/// <summary>
/// A frame a WebSocket consumer sends: <c>{"ack":[ids]}</c>, <c>{"nack":[ids],"delayMs":n}</c> or <c>{"permits":n}</c>
/// (several fields in one frame are applied in that order). The ids are parsed from the frame's bytes as the HTTP ack
/// body's are (<see cref="Subscriptions.AckIdListJsonConverter"/>): no string per id. The receive loop disposes the lists
/// of a frame it read; those of a frame refused part way are left to the collector (their storage is pooled, not held).
/// </summary>
internal sealed record ConsumerFrame(
    [property: JsonConverter(typeof(Subscriptions.AckIdListJsonConverter))] AckIdList? Ack,
    [property: JsonConverter(typeof(Subscriptions.AckIdListJsonConverter))] AckIdList? Nack,
    long? DelayMs,
    int? Permits);

/// <summary>The server's answer to a consumer's ack or nack frame.</summary>
internal sealed record AckFrame(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Acked,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Nacked,
    IReadOnlyList<string> Unknown,
    IReadOnlyList<string> Expired);

/// <summary>A problem sent on a WebSocket (a bad frame) before the server closes it or, for produce, as a receipt's error.</summary>
internal sealed record ErrorFrame(ProblemResponse Error);

/// <summary>
/// A produce frame with <c>?envelope=json</c>: the fields of a batch record plus a client-chosen <c>correlationId</c>
/// echoed in the receipt.
/// </summary>
internal sealed record ProduceFrame(
    string? CorrelationId,
    string? Key,
    JsonElement? Value,
    string? ValueBase64,
    Dictionary<string, string>? Headers,
    int? Partition,
    JsonElement? DeliverAt = null,
    long? DeliverAfterMs = null);

/// <summary>
/// One receipt per produce frame, in frame order: the message's id once durable, or the error that refused it.
/// A delayed frame's receipt has its delayed id and <see cref="DeliverAt"/> instead of an offset and timestamp.
/// </summary>
internal sealed record ProduceReceipt(
    long Seq,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CorrelationId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Partition,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Offset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? Timestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProblemResponse? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? DeliverAt = null);
