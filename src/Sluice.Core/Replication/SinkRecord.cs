using System.Runtime.InteropServices;
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
    public long Bytes => Record.PayloadBytes();

    internal StoredRecord Record { get; } = record;

    /// <summary>
    /// The key's bytes as an array, for client libraries that take <c>byte[]</c>: the record's own array when it holds
    /// exactly the key (the usual case: the log decodes each key and value into its own array), else a copy. Shared:
    /// never write to it.
    /// </summary>
    public byte[]? KeyArray() => Key is { } key ? AsArray(key) : null;

    /// <summary>The value's bytes as an array (null for a tombstone); shared like <see cref="KeyArray"/>, never written to.</summary>
    public byte[]? ValueArray() => Value is { } value ? AsArray(value) : null;

    // A copy per record (1 KiB values: half a MiB a batch) was the next allocation after the encoded bodies.
    private static byte[] AsArray(ReadOnlyMemory<byte> bytes)
        => MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToArray();
}
