namespace Sluice.Core.Log;

/// <summary>A record to append. A null <see cref="Value"/> is a tombstone (meaningful on compacted topics).</summary>
public sealed record RecordToAppend(
    ReadOnlyMemory<byte>? Key,
    ReadOnlyMemory<byte>? Value,
    IReadOnlyList<KeyValuePair<string, string>>? Headers = null,
    DateTimeOffset? Timestamp = null);

/// <summary>A record read back from a partition, with the offset and timestamp the log assigned.</summary>
public sealed record StoredRecord(
    long Offset,
    DateTimeOffset Timestamp,
    ReadOnlyMemory<byte>? Key,
    ReadOnlyMemory<byte>? Value,
    IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    /// <summary>
    /// Key, value and header bytes (header text counted in UTF-16 characters): what batch limits and flush thresholds
    /// count. A method, not a property: a record prints its properties.
    /// </summary>
    public long PayloadBytes()
    {
        long size = (Key?.Length ?? 0) + (Value?.Length ?? 0);
        for (var i = 0; i < Headers.Count; i++) // indexed: a foreach over the interface would allocate an enumerator
        {
            size += Headers[i].Key.Length + Headers[i].Value.Length;
        }

        return size;
    }
}

/// <summary>The outcome of an append: records got offsets BaseOffset .. BaseOffset + Count - 1.</summary>
public readonly record struct AppendResult(long BaseOffset, int Count, DateTimeOffset Timestamp)
{
    public long LastOffset => BaseOffset + Count - 1;
}

/// <summary>Records read from one partition; <see cref="NextOffset"/> is where the next read continues.</summary>
public sealed record ReadResult(IReadOnlyList<StoredRecord> Records, long NextOffset, long EndOffset)
{
    /// <summary>
    /// The records are objects the log keeps for every reader (the embedded log's caches of a partition's tail and of
    /// decoded batches), not decoded for this read alone: per-record work keyed on them (an encoding kept with the
    /// record) serves the other readers too. False when unknown.
    /// </summary>
    public bool SharedRecords { get; init; }
}
