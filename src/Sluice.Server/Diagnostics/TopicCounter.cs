using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Sluice.Core.Topics;

namespace Sluice.Server.Diagnostics;

/// <summary>
/// A count per topic, kept as plain interlocked longs and read when metrics are collected: a produce adds to its topic's
/// box (one dictionary lookup, no tag list, no allocation once the topic is known) instead of calling a tagged
/// instrument. Topics past <c>metrics:maxSeries</c> share one box, so the map stays bounded.
/// </summary>
internal sealed class TopicCounter(int maxTopics)
{
    private readonly ConcurrentDictionary<TopicName, StrongBox<long>> _counts = new();
    private readonly StrongBox<long> _other = new();

    public void Add(TopicName topic, long count)
    {
        if (!_counts.TryGetValue(topic, out var box))
        {
            box = _counts.Count < maxTopics ? _counts.GetOrAdd(topic, static _ => new StrongBox<long>()) : _other;
        }

        Interlocked.Add(ref box.Value, count);
    }

    /// <summary>Every topic's count, then the overflow box's (labelled <see cref="MetricLabels.Other"/>) when it has any.</summary>
    public IEnumerable<(string Topic, string? Subscription, long Value)> Read()
    {
        foreach (var (topic, box) in _counts)
        {
            yield return (topic.ToString(), null, Interlocked.Read(ref box.Value));
        }

        if (Interlocked.Read(ref _other.Value) is > 0 and var other)
        {
            yield return (MetricLabels.Other, null, other);
        }
    }
}
