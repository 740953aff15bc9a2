using System.Collections.Concurrent;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Server.Interim;

/// <summary>
/// TEMPORARY stand-in for the delivery engine until the engine branch merges: every type behaves as shared,
/// no dead-lettering, polls the log. Lets the HTTP layer run and be tested. Deleted at the merge.
/// </summary>
internal sealed class InterimSubscriptionService(IMessageLog log) : ISubscriptionService
{
    private readonly ConcurrentDictionary<(TopicName, string), Sub> _subs = new();

    public async ValueTask<SubscriptionInfo> CreateOrUpdateAsync(TopicName topic, string name, SubscriptionSettings settings, CancellationToken cancellationToken = default)
    {
        var info = await log.DescribeTopicAsync(topic, cancellationToken) ?? throw new TopicNotFoundException(topic);
        var sub = _subs.GetOrAdd((topic, name), _ => new Sub(settings, info.Partitions.Select(p => settings.Position.Kind == StartPositionKind.Latest ? p.EndOffset : 0L).ToArray()));
        sub.Settings = settings;
        return await GetAsync(topic, name, cancellationToken) ?? throw new SubscriptionNotFoundException(topic, name);
    }

    public async ValueTask<SubscriptionInfo?> GetAsync(TopicName topic, string name, CancellationToken cancellationToken = default)
    {
        if (!_subs.TryGetValue((topic, name), out var sub))
        {
            return null;
        }

        var info = await log.DescribeTopicAsync(topic, cancellationToken);
        lock (sub)
        {
            var parts = new List<PartitionCursorInfo>();
            for (var i = 0; i < sub.Next.Length; i++)
            {
                var end = info?.Partitions[i].EndOffset ?? 0;
                parts.Add(new PartitionCursorInfo(i, sub.Next[i], end, end - sub.Next[i]));
            }

            return new SubscriptionInfo(topic, name, sub.Settings, parts, parts.Sum(p => p.Lag), sub.Leases.Count,
                sub.Consumers.Select(c => new ConsumerInfo(c, true, 0, DateTimeOffset.UtcNow)).ToList());
        }
    }

    public ValueTask<IReadOnlyList<string>> ListAsync(TopicName topic, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<IReadOnlyList<string>>(_subs.Keys.Where(k => k.Item1 == topic).Select(k => k.Item2).Order(StringComparer.Ordinal).ToList());

    public ValueTask<bool> DeleteAsync(TopicName topic, string name, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_subs.TryRemove((topic, name), out _));

    public async ValueTask<ISubscriptionConsumer> OpenConsumerAsync(TopicName topic, string name, string consumerId, CancellationToken cancellationToken = default)
    {
        if (!_subs.TryGetValue((topic, name), out var sub))
        {
            await CreateOrUpdateAsync(topic, name, new SubscriptionSettings(), cancellationToken);
            sub = _subs[(topic, name)];
        }

        lock (sub)
        {
            if (sub.Settings.Type == SubscriptionType.Exclusive && sub.Consumers.Count > 0 && !sub.Consumers.Contains(consumerId))
            {
                throw new SubscriptionBusyException(topic, name);
            }

            sub.Consumers.Add(consumerId);
        }

        return new Consumer(this, log, topic, sub, consumerId);
    }

    public ValueTask<AckResult> AckAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, CancellationToken cancellationToken = default)
    {
        var sub = _subs.TryGetValue((topic, name), out var s) ? s : throw new SubscriptionNotFoundException(topic, name);
        lock (sub)
        {
            var unknown = new List<string>();
            var n = 0;
            foreach (var id in ackIds)
            {
                if (sub.Leases.Remove(id))
                {
                    n++;
                }
                else
                {
                    unknown.Add(id);
                }
            }

            return ValueTask.FromResult(new AckResult(n, unknown, []));
        }
    }

    public ValueTask<AckResult> NackAsync(TopicName topic, string name, IReadOnlyList<string> ackIds, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        var sub = _subs.TryGetValue((topic, name), out var s) ? s : throw new SubscriptionNotFoundException(topic, name);
        lock (sub)
        {
            var unknown = new List<string>();
            var n = 0;
            foreach (var id in ackIds)
            {
                if (sub.Leases.Remove(id, out var lease))
                {
                    sub.Redeliver.Add(lease with { Deadline = DateTimeOffset.UtcNow + delay });
                    n++;
                }
                else
                {
                    unknown.Add(id);
                }
            }

            return ValueTask.FromResult(new AckResult(n, unknown, []));
        }
    }

    public ValueTask SeekAsync(TopicName topic, string name, StartPosition position, CancellationToken cancellationToken = default)
    {
        var sub = _subs.TryGetValue((topic, name), out var s) ? s : throw new SubscriptionNotFoundException(topic, name);
        lock (sub)
        {
            for (var i = 0; i < sub.Next.Length; i++)
            {
                sub.Next[i] = position.Kind == StartPositionKind.Offset ? position.Offset ?? 0 : 0;
            }

            sub.Leases.Clear();
            sub.Redeliver.Clear();
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    private sealed record Lease(int Partition, StoredRecord Record, int Attempt, DateTimeOffset Deadline);

    private sealed class Sub(SubscriptionSettings settings, long[] next)
    {
        public SubscriptionSettings Settings { get; set; } = settings;

        public long[] Next { get; } = next;

        public Dictionary<string, Lease> Leases { get; } = [];

        public List<Lease> Redeliver { get; } = [];

        public HashSet<string> Consumers { get; } = [];
    }

    private sealed class Consumer(InterimSubscriptionService owner, IMessageLog log, TopicName topic, Sub sub, string id) : ISubscriptionConsumer
    {
        public string ConsumerId => id;

        public CancellationToken Ended => CancellationToken.None;

        public async ValueTask<IReadOnlyList<Delivery>> ReceiveAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default)
        {
            var until = DateTimeOffset.UtcNow + wait;
            while (true)
            {
                var result = new List<Delivery>();
                var now = DateTimeOffset.UtcNow;
                lock (sub)
                {
                    foreach (var (ackId, lease) in sub.Leases.ToList())
                    {
                        if (lease.Deadline <= now)
                        {
                            sub.Leases.Remove(ackId);
                            sub.Redeliver.Add(lease with { Deadline = now });
                        }
                    }

                    foreach (var lease in sub.Redeliver.Where(l => l.Deadline <= now).Take(max).ToList())
                    {
                        sub.Redeliver.Remove(lease);
                        var ackId = Guid.NewGuid().ToString("N");
                        var next = lease with { Attempt = lease.Attempt + 1, Deadline = now + sub.Settings.AckDeadline };
                        sub.Leases[ackId] = next;
                        result.Add(new Delivery(ackId, topic, next.Partition, next.Record, next.Attempt));
                    }

                    for (var p = 0; p < sub.Next.Length && result.Count < max; p++)
                    {
                        var read = log.ReadAsync(topic, p, sub.Next[p], max - result.Count, 1 << 20).AsTask().GetAwaiter().GetResult();
                        foreach (var r in read.Records)
                        {
                            var ackId = Guid.NewGuid().ToString("N");
                            sub.Leases[ackId] = new Lease(p, r, 1, now + sub.Settings.AckDeadline);
                            result.Add(new Delivery(ackId, topic, p, r, 1));
                        }

                        sub.Next[p] = read.NextOffset;
                    }
                }

                if (result.Count > 0 || DateTimeOffset.UtcNow >= until)
                {
                    return result;
                }

                await Task.Delay(20, cancellationToken);
            }
        }

        public ValueTask ReleaseInFlightAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync()
        {
            lock (sub)
            {
                sub.Consumers.Remove(id);
            }

            _ = owner;
            return ValueTask.CompletedTask;
        }
    }
}
