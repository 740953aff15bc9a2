using Sluice.Core.Topics;

namespace Sluice.Core.Log;

/// <summary>
/// The backend abstraction: a set of partitioned, append-only topics. The embedded log
/// (<c>Sluice.Storage</c>) and the Kafka backend both implement it; the delivery engine and the
/// HTTP server use nothing else.
/// </summary>
/// <remarks>
/// All members are thread-safe. Offsets are per partition, dense on append, and may have gaps
/// after compaction or retention: readers continue from <see cref="ReadResult.NextOffset"/>.
/// </remarks>
public interface IMessageLog : IAsyncDisposable
{
    /// <summary>Creates a topic; throws <see cref="TopicAlreadyExistsException"/> if it exists.</summary>
    ValueTask<TopicInfo> CreateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default);

    /// <summary>Changes retention settings of an existing topic (partition count may only grow).</summary>
    ValueTask<TopicInfo> UpdateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default);

    /// <summary>Deletes a topic and its data. Returns false when it did not exist. Waiting readers of it are cancelled.</summary>
    ValueTask<bool> DeleteTopicAsync(TopicName topic, CancellationToken cancellationToken = default);

    /// <summary>Lists every topic, internal ones included, in ordinal name order.</summary>
    ValueTask<IReadOnlyList<TopicName>> ListTopicsAsync(CancellationToken cancellationToken = default);

    /// <summary>Describes a topic and each partition, or returns null when it does not exist.</summary>
    ValueTask<TopicInfo?> DescribeTopicAsync(TopicName topic, CancellationToken cancellationToken = default);

    /// <summary>
    /// The topic's partition count, or null when it does not exist: what a consumer needs on every attach, without the
    /// per-partition offsets, sizes and times of <see cref="DescribeTopicAsync"/> (a network round trip each on Kafka).
    /// </summary>
    ValueTask<int?> GetPartitionCountAsync(TopicName topic, CancellationToken cancellationToken = default)
        => DescribePartitionCountAsync(this, topic, cancellationToken);

    /// <summary>
    /// Appends records to one partition, in order, and completes only once they are durable under the
    /// configured flush policy. All records of one call get consecutive offsets.
    /// Throws <see cref="TopicNotFoundException"/>, <see cref="PartitionNotFoundException"/> or
    /// <see cref="RecordTooLargeException"/>; when it throws for bad input nothing was written. Throws
    /// <see cref="StorageFullException"/> when the storage has no space left (nothing was written; retry later).
    /// </summary>
    ValueTask<AppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<RecordToAppend> records, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads records starting at <paramref name="offset"/>, at most <paramref name="maxCount"/> records and
    /// about <paramref name="maxBytes"/> bytes (at least one record is returned when one exists, whatever its size).
    /// An offset equal to the end offset returns no records; an offset below the start or above the end throws
    /// <see cref="OffsetOutOfRangeException"/>. Never returns a record that fails its checksum: a read that starts in a
    /// damaged range throws <see cref="CorruptRecordsException"/> (continue at its <c>ToOffset</c>), and one that starts
    /// before it stops there.
    /// </summary>
    ValueTask<ReadResult> ReadAsync(TopicName topic, int partition, long offset, int maxCount, int maxBytes, CancellationToken cancellationToken = default);

    /// <summary>The first offset whose timestamp is at or after <paramref name="timestamp"/>, or the end offset if none.</summary>
    ValueTask<long> FindOffsetAsync(TopicName topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default);

    /// <summary>
    /// Completes when the partition's end offset is greater than <paramref name="offset"/> (at once if it already is).
    /// Completes through notification, not polling. Cancelled by the token or when the topic is deleted
    /// (then throws <see cref="TopicNotFoundException"/>). Await the result exactly once, as any ValueTask: the embedded
    /// log reuses what backs it, and lets go of the token's registration only when it is awaited.
    /// </summary>
    ValueTask WaitForDataAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default);

    /// <summary>
    /// Partitions whose storage needs an operator's attention: damaged records (<see cref="CorruptRange"/>) or no space
    /// left for appends. Empty when all is well, and on backends that do not report such problems.
    /// </summary>
    ValueTask<IReadOnlyList<LogProblem>> GetProblemsAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult<IReadOnlyList<LogProblem>>([]);

    /// <summary>
    /// Deletes records below <paramref name="offset"/> where the backend can do so: the embedded log deletes the closed
    /// segments that end at or below it; Kafka deletes the records (DeleteRecords). Best effort: a backend that cannot
    /// (the default, the mock cluster) keeps them until retention. Readers of deleted offsets get
    /// <see cref="OffsetOutOfRangeException"/>, as after retention.
    /// </summary>
    ValueTask DeleteRecordsBeforeAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
        => ValueTask.CompletedTask;

    private static async ValueTask<int?> DescribePartitionCountAsync(IMessageLog log, TopicName topic, CancellationToken cancellationToken)
        => (await log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false))?.Partitions.Count;
}
