using Sluice.Core.Topics;

namespace Sluice.Core.Log;

/// <summary>A topic's settings and the state of each of its partitions.</summary>
public sealed record TopicInfo(TopicName Name, TopicSettings Settings, IReadOnlyList<PartitionInfo> Partitions);

/// <summary>
/// One partition: offsets in [<paramref name="StartOffset"/>, <paramref name="EndOffset"/>) are readable
/// (less any removed by compaction, and any in <paramref name="CorruptRanges"/>). Timestamps are null when the partition is empty.
/// </summary>
public sealed record PartitionInfo(
    int Partition,
    long StartOffset,
    long EndOffset,
    long Bytes,
    DateTimeOffset? OldestTimestamp,
    DateTimeOffset? NewestTimestamp,
    IReadOnlyList<CorruptRange>? CorruptRanges = null);

/// <summary>
/// Offsets [<paramref name="FromOffset"/>, <paramref name="ToOffset"/>) of a partition whose records are damaged on disk
/// (or were cut off by recovery) and are never served; found at <paramref name="DetectedAt"/>.
/// </summary>
public sealed record CorruptRange(long FromOffset, long ToOffset, string Reason, DateTimeOffset DetectedAt);

/// <summary>
/// Something wrong with one partition's storage that an operator should see (<c>/readyz</c>): <paramref name="Kind"/> is
/// <c>corrupt-records</c> or <c>storage-full</c>, and <paramref name="Detail"/> says what, without file paths.
/// </summary>
public sealed record LogProblem(TopicName Topic, int Partition, string Kind, string Detail);
