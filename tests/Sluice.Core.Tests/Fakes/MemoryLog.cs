using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Fakes;

/// <summary>
/// Test double of <see cref="IMessageLog"/>: topics in memory, faithful to the contract where the engine relies on it
/// (dense offsets, range checks, notification-based <see cref="WaitForDataAsync"/>, delete cancels waiters). No
/// retention or compaction: state topics simply keep every record, and "last value per key wins" still holds.
/// A new engine over the same instance simulates a restart.
/// </summary>
internal sealed class MemoryLog(TimeProvider time) : IMessageLog
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TopicName, Topic> _topics = [];

    public int AppendCalls { get; private set; }

    /// <summary>When set and returning an exception for a topic, appends to it throw that (a failing disk).</summary>
    public Func<TopicName, Exception?>? FailAppends { get; set; }

    /// <summary>When set and returning a task for a topic, appends to it wait for that task first (a slow disk).</summary>
    public Func<TopicName, Task?>? HoldAppends { get; set; }

    public ValueTask<TopicInfo> CreateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_topics.ContainsKey(topic))
            {
                throw new TopicAlreadyExistsException(topic);
            }

            var t = new Topic(settings);
            _topics[topic] = t;
            return ValueTask.FromResult(Describe(topic, t));
        }
    }

    public ValueTask<TopicInfo> UpdateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var t = Get(topic);
            while (t.Partitions.Count < settings.Partitions)
            {
                t.Partitions.Add(new Partition());
            }

            t.Settings = settings;
            return ValueTask.FromResult(Describe(topic, t));
        }
    }

    public ValueTask<bool> DeleteTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        List<TaskCompletionSource> waiters = [];
        lock (_gate)
        {
            if (!_topics.Remove(topic, out var t))
            {
                return ValueTask.FromResult(false);
            }

            foreach (var p in t.Partitions)
            {
                waiters.AddRange(p.Waiters);
                p.Waiters.Clear();
            }
        }

        foreach (var w in waiters)
        {
            w.TrySetException(new TopicNotFoundException(topic));
        }

        return ValueTask.FromResult(true);
    }

    public ValueTask<IReadOnlyList<TopicName>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<TopicName>>(_topics.Keys.OrderBy(k => k.ToString(), StringComparer.Ordinal).ToList());
        }
    }

    public ValueTask<TopicInfo?> DescribeTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_topics.TryGetValue(topic, out var t) ? Describe(topic, t) : null);
        }
    }

    public ValueTask<AppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<RecordToAppend> records, CancellationToken cancellationToken = default)
    {
        if (HoldAppends?.Invoke(topic) is { } hold)
        {
            return AppendAfterAsync(hold, topic, partition, records);
        }

        return AppendNow(topic, partition, records);
    }

    private async ValueTask<AppendResult> AppendAfterAsync(Task hold, TopicName topic, int partition, IReadOnlyList<RecordToAppend> records)
    {
        await hold;
        return await AppendNow(topic, partition, records);
    }

    private ValueTask<AppendResult> AppendNow(TopicName topic, int partition, IReadOnlyList<RecordToAppend> records)
    {
        List<TaskCompletionSource> waiters;
        AppendResult result;
        if (FailAppends?.Invoke(topic) is { } failure)
        {
            return ValueTask.FromException<AppendResult>(failure);
        }

        lock (_gate)
        {
            var p = GetPartition(topic, partition);
            var now = time.GetUtcNow();
            var baseOffset = (long)p.Records.Count;
            foreach (var r in records)
            {
                p.Records.Add(new StoredRecord(p.Records.Count, r.Timestamp ?? now, r.Key, r.Value, r.Headers ?? []));
            }

            AppendCalls++;
            waiters = [.. p.Waiters];
            p.Waiters.Clear();
            result = new AppendResult(baseOffset, records.Count, now);
        }

        foreach (var w in waiters)
        {
            w.TrySetResult();
        }

        return ValueTask.FromResult(result);
    }

    public ValueTask<ReadResult> ReadAsync(TopicName topic, int partition, long offset, int maxCount, int maxBytes, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var p = GetPartition(topic, partition);
            var end = p.Records.Count;
            if (offset < 0 || offset > end)
            {
                throw new OffsetOutOfRangeException(partition, offset, 0, end);
            }

            var list = new List<StoredRecord>();
            long bytes = 0;
            for (var o = offset; o < end && list.Count < maxCount && (list.Count == 0 || bytes < maxBytes); o++)
            {
                var r = p.Records[(int)o];
                list.Add(r);
                bytes += (r.Key?.Length ?? 0) + (r.Value?.Length ?? 0);
            }

            return ValueTask.FromResult(new ReadResult(list, offset + list.Count, end));
        }
    }

    public ValueTask<long> FindOffsetAsync(TopicName topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var p = GetPartition(topic, partition);
            var i = p.Records.FindIndex(r => r.Timestamp >= timestamp);
            return ValueTask.FromResult(i < 0 ? (long)p.Records.Count : i);
        }
    }

    public async ValueTask WaitForDataAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource waiter;
        lock (_gate)
        {
            var p = GetPartition(topic, partition);
            if (p.Records.Count > offset)
            {
                return;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            p.Waiters.Add(waiter);
        }

        await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Calls of <see cref="DeleteRecordsBeforeAsync"/>, which this fake records but does not apply (it keeps every record).</summary>
    public List<(TopicName Topic, int Partition, long Offset)> DeletesBefore { get; } = [];

    public ValueTask DeleteRecordsBeforeAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            DeletesBefore.Add((topic, partition, offset));
        }

        return ValueTask.CompletedTask;
    }

    public IReadOnlyList<StoredRecord> Records(TopicName topic, int partition)
    {
        lock (_gate)
        {
            return GetPartition(topic, partition).Records.ToList();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Topic Get(TopicName topic) => _topics.TryGetValue(topic, out var t) ? t : throw new TopicNotFoundException(topic);

    private Partition GetPartition(TopicName topic, int partition)
    {
        var t = Get(topic);
        return partition >= 0 && partition < t.Partitions.Count
            ? t.Partitions[partition]
            : throw new PartitionNotFoundException(topic, partition, t.Partitions.Count);
    }

    private static TopicInfo Describe(TopicName name, Topic t)
        => new(name, t.Settings, t.Partitions.Select((p, i) => new PartitionInfo(
            i, 0, p.Records.Count, p.Records.Sum(r => (long)(r.Value?.Length ?? 0)),
            p.Records.Count > 0 ? p.Records[0].Timestamp : null,
            p.Records.Count > 0 ? p.Records[^1].Timestamp : null)).ToList());

    private sealed class Topic
    {
        public Topic(TopicSettings settings)
        {
            Settings = settings;
            for (var i = 0; i < settings.Partitions; i++)
            {
                Partitions.Add(new Partition());
            }
        }

        public TopicSettings Settings { get; set; }

        public List<Partition> Partitions { get; } = [];
    }

    private sealed class Partition
    {
        public List<StoredRecord> Records { get; } = [];

        public List<TaskCompletionSource> Waiters { get; } = [];
    }
}
