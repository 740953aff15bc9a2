using Sluice.Core.Replication;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Server.Diagnostics;

/// <summary>
/// Lag, backlog, in-flight and consumers of every subscription, and state and lag of every replicator, for the gauges. Reading them takes the log's end offsets
/// (a request to Kafka on that backend), which a metrics callback must not wait for: a collection reports the last
/// sample and, when it is older than <see cref="MaxAge"/>, starts one new sample in the background. So the gauges cost
/// nothing while nobody scrapes, and lag is at most one scrape interval (plus <see cref="MaxAge"/>) old.
/// </summary>
internal sealed partial class SubscriptionSampler(ISubscriptionService subscriptions, IReplicatorService replicators, TimeProvider time, ILogger<SubscriptionSampler> logger)
{
    /// <summary>2 s: fresher than any scrape interval in use, rare enough to cost the log nothing noticeable.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(2);

    /// <summary>Most subscriptions sampled: past it the gauges cover the first ones in name order.</summary>
    public const int MaxSampled = 10_000;

    private readonly Lock _gate = new();
    private IReadOnlyList<Sample> _current = [];
    private IReadOnlyList<ReplicatorSample> _replicators = [];
    private DateTimeOffset _sampledAt = DateTimeOffset.MinValue;
    private Task? _running;

    /// <summary>One subscription's state when last sampled.</summary>
    internal sealed record Sample(TopicName Topic, string Name, long Lag, long Backlog, int InFlight, int Consumers);

    /// <summary>One replicator's status when last sampled.</summary>
    internal sealed record ReplicatorSample(string Name, string Sink, string State, long Lag);

    /// <summary>The last sample of the subscriptions; starts a new one when it is stale.</summary>
    public IReadOnlyList<Sample> Current()
    {
        lock (_gate)
        {
            StartIfStale();
            return _current;
        }
    }

    /// <summary>The last sample of the replicators; starts a new one when it is stale.</summary>
    public IReadOnlyList<ReplicatorSample> Replicators()
    {
        lock (_gate)
        {
            StartIfStale();
            return _replicators;
        }
    }

    // Under _gate.
    private void StartIfStale()
    {
        if (_running is null && time.GetUtcNow() - _sampledAt >= MaxAge)
        {
            _running = Task.Run(SampleAsync);
        }
    }

    /// <summary>Samples now and waits for it (tests, and the first collection of a fresh process).</summary>
    public async Task RefreshAsync()
    {
        Task running;
        lock (_gate)
        {
            running = _running ??= Task.Run(SampleAsync);
        }

        await running.ConfigureAwait(false);
    }

    private async Task SampleAsync()
    {
        var samples = new List<Sample>();
        var replicatorSamples = new List<ReplicatorSample>();
        try
        {
            var counts = new List<SubscriptionCounts>();
            subscriptions.CollectCounts(counts);
            counts.Sort(static (a, b) =>
            {
                var byTopic = string.CompareOrdinal(a.Topic.ToString(), b.Topic.ToString());
                return byTopic != 0 ? byTopic : string.CompareOrdinal(a.Name, b.Name);
            });
            foreach (var s in counts.Take(MaxSampled))
            {
                try
                {
                    if (await subscriptions.GetAsync(s.Topic, s.Name).ConfigureAwait(false) is { } info)
                    {
                        samples.Add(new Sample(info.Topic, info.Name, info.Partitions.Sum(p => p.Lag), info.Backlog, info.InFlight, info.Consumers.Count));
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A topic deleted meanwhile, a log hiccup: that subscription is left out of this sample.
                    Log.SampleFailed(logger, s.Topic.ToString(), s.Name, ex.Message);
                }
            }

            foreach (var r in replicators.List().OrderBy(r => r.Name, StringComparer.Ordinal).Take(MaxSampled))
            {
                try
                {
                    if (await replicators.GetStatusAsync(r.Name).ConfigureAwait(false) is { } status)
                    {
                        replicatorSamples.Add(new ReplicatorSample(r.Name, r.SinkType, status.State, status.Lag));
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Log.SampleFailed(logger, "replicator", r.Name, ex.Message);
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _current = samples;
                _replicators = replicatorSamples;
                _sampledAt = time.GetUtcNow();
                _running = null;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.MetricsSampleFailed, Level = LogLevel.Debug, Message = "Metrics: could not sample {Name} of {Owner}: {Reason}")]
        public static partial void SampleFailed(ILogger logger, string owner, string name, string reason);
    }
}
