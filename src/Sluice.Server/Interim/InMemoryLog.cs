using System.Collections.Concurrent;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Server.Interim;

/// <summary>
/// TEMPORARY stand-in for <c>EmbeddedLog</c> until the storage branch merges: lets the HTTP layer run and be
/// tested. Not durable. Deleted at the merge.
/// </summary>
internal sealed class InMemoryLog : IMessageLog
{
    private readonly ConcurrentDictionary<TopicName, Topic> _topics = new();

    public ValueTask<TopicInfo> CreateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        var t = new Topic(settings);
        if (!_topics.TryAdd(topic, t))
        {
            throw new TopicAlreadyExistsException(topic);
        }

        return ValueTask.FromResult(t.Describe(topic));
    }

    public ValueTask<TopicInfo> UpdateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        var t = Get(topic);
        lock (t)
        {
            while (t.Parts.Count < settings.Partitions)
            {
                t.Parts.Add(new Part());
            }

            t.Settings = settings;
        }

        return ValueTask.FromResult(t.Describe(topic));
    }

    public ValueTask<bool> DeleteTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        if (_topics.TryRemove(topic, out var t))
        {
            foreach (var p in t.Parts)
            {
                lock (p)
                {
                    p.Signal.TrySetException(new TopicNotFoundException(topic));
                }
            }

            return ValueTask.FromResult(true);
        }

        return ValueTask.FromResult(false);
    }

    public ValueTask<IReadOnlyList<TopicName>> ListTopicsAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult<IReadOnlyList<TopicName>>(_topics.Keys.OrderBy(t => t.ToString(), StringComparer.Ordinal).ToList());

    public ValueTask<TopicInfo?> DescribeTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_topics.TryGetValue(topic, out var t) ? t.Describe(topic) : null);

    public ValueTask<AppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<RecordToAppend> records, CancellationToken cancellationToken = default)
    {
        var p = GetPart(topic, partition);
        lock (p)
        {
            var now = DateTimeOffset.UtcNow;
            var baseOffset = p.Records.Count;
            foreach (var r in records)
            {
                p.Records.Add(new StoredRecord(p.Records.Count, r.Timestamp ?? now, r.Key, r.Value, r.Headers ?? []));
                p.Bytes += (r.Value?.Length ?? 0) + (r.Key?.Length ?? 0);
            }

            var signal = p.Signal;
            p.Signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            signal.TrySetResult();
            return ValueTask.FromResult(new AppendResult(baseOffset, records.Count, now));
        }
    }

    public ValueTask<ReadResult> ReadAsync(TopicName topic, int partition, long offset, int maxCount, int maxBytes, CancellationToken cancellationToken = default)
    {
        var p = GetPart(topic, partition);
        lock (p)
        {
            if (offset < 0 || offset > p.Records.Count)
            {
                throw new OffsetOutOfRangeException(partition, offset, 0, p.Records.Count);
            }

            var list = p.Records.Skip((int)offset).Take(maxCount).ToList();
            return ValueTask.FromResult(new ReadResult(list, offset + list.Count, p.Records.Count));
        }
    }

    public ValueTask<long> FindOffsetAsync(TopicName topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        var p = GetPart(topic, partition);
        lock (p)
        {
            var r = p.Records.FirstOrDefault(r => r.Timestamp >= timestamp);
            return ValueTask.FromResult(r?.Offset ?? p.Records.Count);
        }
    }

    public async ValueTask WaitForDataAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var p = GetPart(topic, partition);
            Task signal;
            lock (p)
            {
                if (p.Records.Count > offset)
                {
                    return;
                }

                signal = p.Signal.Task;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Topic Get(TopicName topic) => _topics.TryGetValue(topic, out var t) ? t : throw new TopicNotFoundException(topic);

    private Part GetPart(TopicName topic, int partition)
    {
        var t = Get(topic);
        lock (t)
        {
            return partition >= 0 && partition < t.Parts.Count ? t.Parts[partition] : throw new PartitionNotFoundException(topic, partition, t.Parts.Count);
        }
    }

    private sealed class Topic
    {
        public Topic(TopicSettings settings)
        {
            Settings = settings;
            for (var i = 0; i < settings.Partitions; i++)
            {
                Parts.Add(new Part());
            }
        }

        public TopicSettings Settings { get; set; }

        public List<Part> Parts { get; } = [];

        public TopicInfo Describe(TopicName name)
        {
            lock (this)
            {
                var parts = new List<PartitionInfo>();
                for (var i = 0; i < Parts.Count; i++)
                {
                    var p = Parts[i];
                    lock (p)
                    {
                        parts.Add(new PartitionInfo(i, 0, p.Records.Count, p.Bytes, p.Records.FirstOrDefault()?.Timestamp, p.Records.LastOrDefault()?.Timestamp));
                    }
                }

                return new TopicInfo(name, Settings with { Partitions = Parts.Count }, parts);
            }
        }
    }

    private sealed class Part
    {
        public List<StoredRecord> Records { get; } = [];

        public long Bytes { get; set; }

        public TaskCompletionSource Signal { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
