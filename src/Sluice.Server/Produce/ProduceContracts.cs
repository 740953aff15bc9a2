using System.Text.Json.Serialization;

namespace Sluice.Server.Produce;

/// <summary>Answer to a durable single-message produce.</summary>
internal sealed record ProduceResponse(string Id, int Partition, long Offset, DateTimeOffset Timestamp);

/// <summary>
/// Answer to a durable delayed produce: the message is held until <see cref="DeliverAt"/>, then appended to
/// <see cref="Partition"/>. <see cref="Id"/> cancels it (<c>DELETE .../delayed/{id}</c>).
/// </summary>
internal sealed record DelayedProduceResponse(string Id, int Partition, DateTimeOffset DeliverAt);

/// <summary>Answer to <c>?async=true</c>: the message is accepted, not yet durable.</summary>
internal sealed record AcceptedResponse(bool Accepted, int Partition);

/// <summary>A JSON batch: <c>{"messages":[...]}</c>.</summary>
internal sealed record BatchRequest(List<BatchRecord>? Messages);

/// <summary>
/// One record of a batch (also one NDJSON line). <see cref="Value"/> is a JSON string (stored as its UTF-8
/// bytes) or any other JSON value (stored as its JSON text); <see cref="ValueBase64"/> carries binary.
/// <see cref="DeliverAt"/> (ISO-8601 string or epoch ms) or <see cref="DeliverAfterMs"/> delays the record.
/// Settable properties, not a primary constructor nor <c>init</c>: the source-generated serializer binds both through an
/// argument array per record (boxing the partition), a tenth of a batch's parse (design note 0017).
/// </summary>
internal sealed record BatchRecord
{
    public string? Key { get; set; }

    [JsonConverter(typeof(RecordValueConverter))]
    public RecordValue? Value { get; set; }

    public string? ValueBase64 { get; set; }

    public Dictionary<string, string>? Headers { get; set; }

    public int? Partition { get; set; }

    public System.Text.Json.JsonElement? DeliverAt { get; set; }

    public long? DeliverAfterMs { get; set; }
}

internal sealed record BatchResponse(List<BatchResult> Results);

/// <summary>One record's result: its offset once appended, or, when delayed, its delivery time (and a delayed id).</summary>
internal sealed record BatchResult(
    string Id,
    int Partition,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Offset,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? DeliverAt = null);
