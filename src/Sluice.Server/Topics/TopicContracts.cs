using System.Text.Json.Serialization;
using Sluice.Server.Streaming;

namespace Sluice.Server.Topics;

/// <summary>Body of <c>PUT /v1/topics/...</c>; omitted fields keep their current (or default) value.</summary>
internal sealed record TopicRequest(int? Partitions, long? RetentionMs, long? RetentionBytes, bool? Compacted);

internal sealed record TopicResponse(
    string Name,
    List<PartitionResponse> Partitions,
    long? RetentionMs,
    long? RetentionBytes,
    bool Compacted);

/// <summary>One partition; <see cref="CorruptRanges"/> (absent when none): offsets whose records are damaged on disk and not served.</summary>
internal sealed record PartitionResponse(
    int Partition,
    long StartOffset,
    long EndOffset,
    long Bytes,
    DateTimeOffset? OldestTimestamp,
    DateTimeOffset? NewestTimestamp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<CorruptRangeResponse>? CorruptRanges = null);

internal sealed record TopicListResponse(List<string> Topics);
