using Sluice.Core.Topics;

namespace Sluice.Core.Log;

/// <summary>Base of the log's expected, user-caused errors. Nothing was written when one is thrown.</summary>
public abstract class LogException(string message) : Exception(message);

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
