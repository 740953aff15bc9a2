using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>One message to replicate, as it is in the source topic.</summary>
public sealed class SinkRecord(TopicName topic, int partition, StoredRecord record)
{
    private string? _idempotencyKey;

    public TopicName Topic { get; } = topic;

    public int Partition { get; } = partition;

    public long Offset => Record.Offset;

    public ReadOnlyMemory<byte>? Key => Record.Key;

    /// <summary>Null for a tombstone.</summary>
    public ReadOnlyMemory<byte>? Value => Record.Value;

    public IReadOnlyList<KeyValuePair<string, string>> Headers => Record.Headers;

    public DateTimeOffset PublishTime => Record.Timestamp;

    /// <summary>
    /// <c>{tenant}/{namespace}/{topic}/{partition}/{offset}</c>: the same for every attempt and after any restart, so a
    /// target that deduplicates by it (message id, primary key, <c>Idempotency-Key</c>, object key) keeps each record once.
    /// </summary>
    public string IdempotencyKey => _idempotencyKey ??= $"{Topic}/{Partition}/{Offset}";

    /// <summary>Key, value and header bytes (UTF-16 header text counted as its length): what batch limits count.</summary>
    public long Bytes
    {
        get
        {
            long size = (Key?.Length ?? 0) + (Value?.Length ?? 0);
            foreach (var h in Headers)
            {
                size += h.Key.Length + h.Value.Length;
            }

            return size;
        }
    }

    internal StoredRecord Record { get; } = record;
}
