namespace Sluice.Server.Topics;

/// <summary>Body of <c>PUT /v1/topics/...</c>; omitted fields keep their current (or default) value.</summary>
internal sealed record TopicRequest(int? Partitions, long? RetentionMs, long? RetentionBytes, bool? Compacted);

internal sealed record TopicResponse(
    string Name,
    List<PartitionResponse> Partitions,
    long? RetentionMs,
    long? RetentionBytes,
    bool Compacted);

internal sealed record PartitionResponse(
    int Partition,
    long StartOffset,
    long EndOffset,
    long Bytes,
    DateTimeOffset? OldestTimestamp,
    DateTimeOffset? NewestTimestamp);

internal sealed record TopicListResponse(List<string> Topics);
