using System.Text;
using Confluent.Kafka;
using Sluice.Core.Log;

namespace Sluice.Kafka;

/// <summary>
/// A bounded pool of assign-mode consumers for random-access reads. librdkafka consumers are heavy (threads per
/// instance), so they are reused: a read that continues where a pooled reader stopped takes that reader and reads
/// what it prefetched meanwhile, without a new assignment. A reader that stopped at the end of its partition is
/// unassigned when parked (its fetches would find nothing, and the mock's do not long-poll, so it would spin). Idle
/// readers are closed after <see cref="KafkaLogOptions.ReaderIdleTimeout"/>.
/// Readers are never paused: librdkafka keeps a pause across assignments and resumed fetching up to a second late.
/// </summary>
internal sealed class KafkaReaderPool : IDisposable
{
    private readonly KafkaLogOptions _options;
    private readonly string _bootstrapServers;
    private readonly TimeProvider _time;
    private readonly Action<LogMessage> _onLog;
    private readonly Action<Error> _onError;
    private readonly SemaphoreSlim _slots;
    private readonly Lock _gate = new();
    private readonly List<KafkaReader> _idle = [];
    private readonly ITimer _sweeper;
    private bool _disposed;

    public KafkaReaderPool(KafkaLogOptions options, string bootstrapServers, TimeProvider time, Action<LogMessage> onLog, Action<Error> onError)
    {
        _options = options;
        _bootstrapServers = bootstrapServers;
        _time = time;
        _onLog = onLog;
        _onError = onError;
        _slots = new SemaphoreSlim(options.MaxReaders, options.MaxReaders);
        var period = options.ReaderIdleTimeout / 2;
        _sweeper = time.CreateTimer(_ => CloseIdle(), null, period, period);
    }

    public async ValueTask<KafkaReader> RentAsync(string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var index = _idle.FindIndex(r => r.IsAt(topic, partition, offset));
            if (index < 0 && _idle.Count > 0)
            {
                index = 0; // the least recently used
            }

            if (index >= 0)
            {
                var reader = _idle[index];
                _idle.RemoveAt(index);
                return reader;
            }
        }

        try
        {
            return new KafkaReader(new ConsumerBuilder<byte[]?, byte[]?>(KafkaClients.Reader(_options, _bootstrapServers))
                .SetLogHandler((_, m) => _onLog(m))
                .SetErrorHandler((_, e) => _onError(e))
                .Build());
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    public void Return(KafkaReader reader)
    {
        reader.Park(_time.GetUtcNow());
        lock (_gate)
        {
            if (_disposed)
            {
                reader.Dispose();
                return;
            }

            _idle.Add(reader);
        }

        _slots.Release();
    }

    /// <summary>Makes idle readers of a deleted topic forget their position and prefetched records: a topic created
    /// again under the name starts at offset 0 again, and must not be served the old one's records.</summary>
    public void Forget(string topic)
    {
        lock (_gate)
        {
            foreach (var reader in _idle)
            {
                if (reader.IsOn(topic))
                {
                    reader.Reset();
                }
            }
        }
    }

    private void CloseIdle()
    {
        var cutoff = _time.GetUtcNow() - _options.ReaderIdleTimeout;
        List<KafkaReader> closing;
        lock (_gate)
        {
            closing = _idle.FindAll(r => r.LastUsed < cutoff);
            _idle.RemoveAll(r => r.LastUsed < cutoff);
        }

        foreach (var reader in closing)
        {
            reader.Dispose();
        }
    }

    public void Dispose()
    {
        List<KafkaReader> closing;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            closing = [.. _idle];
            _idle.Clear();
        }

        _sweeper.Dispose();
        foreach (var reader in closing)
        {
            reader.Dispose();
        }
    }
}

/// <summary>One pooled consumer, assigned to at most one partition, remembering where it stopped.</summary>
internal sealed class KafkaReader(IConsumer<byte[]?, byte[]?> consumer) : IDisposable
{
    // A Consume call blocks its thread for at most this long, so reads never hold a pool thread for long.
    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(100);

    private string? _topic;
    private int _partition;
    private long _position = -1;
    private bool _drained;
    private ConsumeResult<byte[]?, byte[]?>? _pending;

    public DateTimeOffset LastUsed { get; private set; }

    public bool IsAt(string topic, int partition, long offset) => _topic == topic && _partition == partition && _position == offset;

    public bool IsOn(string topic) => _topic == topic;

    /// <summary>Reads from <paramref name="offset"/>, which is below <paramref name="endOffset"/>.</summary>
    public ReadResult Read(string topic, int partition, long offset, long endOffset, int maxCount, int maxBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var tp = new TopicPartition(topic, partition);
        if (!IsAt(topic, partition, offset))
        {
            consumer.Assign(new TopicPartitionOffset(tp, offset));
            _topic = topic;
            _partition = partition;
            _pending = null;
        }

        var records = new List<StoredRecord>(Math.Min(maxCount, 256));
        long bytes = 0;
        var next = offset;
        var deadline = DateTime.UtcNow + timeout;
        var atEnd = false; // the broker said end of partition before endOffset (a compaction gap at the end)
        while (records.Count < maxCount && next < endOffset)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ConsumeResult<byte[]?, byte[]?>? result;
            if (_pending is not null)
            {
                result = _pending;
                _pending = null;
            }
            else
            {
                // Every offset below endOffset exists, so wait for it: the mock answers a fetch with one produced batch.
                result = consumer.Consume(Slice);
            }

            if (result is null || result.IsPartitionEOF)
            {
                // End of partition reached with records in hand (a compaction gap at the end), or nothing came in time.
                if (records.Count > 0 && (result is not null || DateTime.UtcNow > deadline))
                {
                    atEnd = result is not null;
                    break;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"Kafka did not return offset {offset} of {topic} [{partition}] within {timeout}");
                }

                continue;
            }

            if (result.Offset.Value < next || result.TopicPartition != tp)
            {
                continue; // left over from before a reassignment
            }

            var record = ToStored(result);
            var size = (record.Key?.Length ?? 0) + (record.Value?.Length ?? 0);
            if (records.Count > 0 && bytes + size > maxBytes)
            {
                _pending = result;
                break;
            }

            records.Add(record);
            bytes += size;
            next = result.Offset.Value + 1;
        }

        _position = _pending?.Offset.Value ?? next;
        _drained = _pending is null && (next >= endOffset || atEnd);
        return new ReadResult(records, next, Math.Max(endOffset, next));
    }

    /// <summary>Stops fetching and forgets the position (after an error, or at the end): the next read assigns afresh.</summary>
    public void Reset()
    {
        if (_topic is not null)
        {
            try
            {
                consumer.Unassign();
            }
            catch (KafkaException)
            {
                // Nothing more to do: the position is forgotten either way.
            }
        }

        _topic = null;
        _position = -1;
        _pending = null;
    }

    /// <summary>
    /// Puts the reader in the pool: one that read to the end of its partition stops fetching (unassigned, so the next
    /// read assigns afresh); one in the middle keeps its assignment and goes on prefetching (bounded by
    /// queued.max.messages.kbytes) for a read that continues where it stopped.
    /// </summary>
    public void Park(DateTimeOffset now)
    {
        LastUsed = now;
        if (_topic is not null && _drained)
        {
            Reset();
        }
    }

    private static StoredRecord ToStored(ConsumeResult<byte[]?, byte[]?> result)
    {
        var message = result.Message;
        IReadOnlyList<KeyValuePair<string, string>> headers = [];
        if (message.Headers is { Count: > 0 } h)
        {
            var list = new List<KeyValuePair<string, string>>(h.Count);
            foreach (var header in h)
            {
                var value = header.GetValueBytes();
                list.Add(new(header.Key, value is null ? "" : Encoding.UTF8.GetString(value)));
            }

            headers = list;
        }

        return new StoredRecord(
            result.Offset.Value,
            message.Timestamp.UtcDateTime,
            // Explicit: a null byte[] would otherwise convert to an empty (not null) memory.
            message.Key is null ? (ReadOnlyMemory<byte>?)null : message.Key,
            message.Value is null ? (ReadOnlyMemory<byte>?)null : message.Value,
            headers);
    }

    public void Dispose()
    {
        try
        {
            consumer.Close();
        }
        catch (KafkaException)
        {
            // Closing a reader that never joined a group cannot lose anything.
        }

        consumer.Dispose();
    }
}
