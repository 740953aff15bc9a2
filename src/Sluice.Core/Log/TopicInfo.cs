using Sluice.Core.Topics;

namespace Sluice.Core.Log;

/// <summary>A topic's settings and the state of each of its partitions.</summary>
public sealed record TopicInfo(TopicName Name, TopicSettings Settings, IReadOnlyList<PartitionInfo> Partitions);

/// <summary>
/// One partition: offsets in [<paramref name="StartOffset"/>, <paramref name="EndOffset"/>) are readable
/// (less any removed by compaction). Timestamps are null when the partition is empty.
/// </summary>
public sealed record PartitionInfo(
    int Partition,
    long StartOffset,
    long EndOffset,
    long Bytes,
    DateTimeOffset? OldestTimestamp,
    DateTimeOffset? NewestTimestamp);
