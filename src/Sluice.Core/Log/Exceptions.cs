using Sluice.Core.Topics;

namespace Sluice.Core.Log;

/// <summary>Base of the log's expected errors (most caused by the caller). Nothing was written when one is thrown.</summary>
public abstract class LogException(string message, Exception? innerException = null) : Exception(message, innerException);

public sealed class TopicNotFoundException(TopicName topic)
    : LogException($"topic '{topic}' does not exist")
{
    public TopicName Topic { get; } = topic;
}

public sealed class TopicAlreadyExistsException(TopicName topic)
    : LogException($"topic '{topic}' already exists")
{
    public TopicName Topic { get; } = topic;
}

public sealed class PartitionNotFoundException(TopicName topic, int partition, int partitionCount)
    : LogException($"partition {partition} does not exist; topic '{topic}' has {partitionCount} (0..{partitionCount - 1})")
{
    public int Partition { get; } = partition;

    public int PartitionCount { get; } = partitionCount;
}

public sealed class RecordTooLargeException(long size, long maxSize)
    : LogException($"record of {size} bytes exceeds the maximum record size of {maxSize} bytes")
{
    public long Size { get; } = size;

    public long MaxSize { get; } = maxSize;
}

public sealed class OffsetOutOfRangeException(int partition, long offset, long startOffset, long endOffset)
    : LogException($"offset {offset} is outside partition {partition}, which holds offsets {startOffset}..{endOffset} (end exclusive)")
{
    public long Offset { get; } = offset;

    public long StartOffset { get; } = startOffset;

    public long EndOffset { get; } = endOffset;
}

public sealed class InvalidTopicSettingsException(string message) : LogException(message);

/// <summary>The backend cannot do this (e.g. the Kafka cluster lacks the admin API it needs). Nothing was changed.</summary>
public sealed class OperationNotSupportedException(string message) : LogException(message);

/// <summary>
/// The storage holding the partition (or, when <see cref="Partition"/> is null, the topic) has no space left: nothing was
/// written or changed. Not permanent: the same call succeeds once space is freed (retention, deleted topics), no restart needed.
/// </summary>
public sealed class StorageFullException(TopicName topic, int? partition, Exception? innerException = null)
    : LogException(partition is { } p
        ? $"no space left on the storage of partition {p} of topic '{topic}'; nothing was written: retry once space is freed"
        : $"no space left on the storage of topic '{topic}'; nothing was changed: retry once space is freed", innerException)
{
    public TopicName Topic { get; } = topic;

    public int? Partition { get; } = partition;
}

/// <summary>
/// The records at offsets [<see cref="FromOffset"/>, <see cref="ToOffset"/>) of a partition are damaged on disk and are
/// never served. Thrown by a read that starts in such a range; a read that starts before it returns the records before
/// it. Readers continue at <see cref="ToOffset"/>, the next offset that can be read.
/// </summary>
public sealed class CorruptRecordsException(TopicName topic, int partition, long fromOffset, long toOffset, string reason)
    : LogException($"offsets {fromOffset}..{toOffset - 1} of partition {partition} of topic '{topic}' are damaged on disk and cannot be served ({reason}); the next readable offset is {toOffset}")
{
    public TopicName Topic { get; } = topic;

    public int Partition { get; } = partition;

    /// <summary>First offset of the damaged range.</summary>
    public long FromOffset { get; } = fromOffset;

    /// <summary>The offset after the damaged range: where reading continues.</summary>
    public long ToOffset { get; } = toOffset;

    /// <summary>What is wrong, without file paths (safe to show to clients).</summary>
    public string Reason { get; } = reason;
}
