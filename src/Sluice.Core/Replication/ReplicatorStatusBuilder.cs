using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// Puts a replicator's status together: positions, end offsets and lag from its subscriptions (the truth of what was
/// acknowledged), state and errors from its runner and workers on this gateway, counters since this gateway started.
/// </summary>
internal static class ReplicatorStatusBuilder
{
    public static async Task<ReplicatorStatus> BuildAsync(
        ReplicatorDefinition replicator,
        ReplicatorRunner? runner,
        ReplicatorCounters counters,
        bool workersHere,
        ISubscriptionService engine,
        Func<ReplicatorDefinition, CancellationToken, Task<IReadOnlyList<TopicName>>> sourceTopics,
        CancellationToken cancellationToken)
    {
        var snapshot = runner?.Snapshot();
        var workers = snapshot?.Workers.ToDictionary(w => w.Topic) ?? [];
        var topics = new SortedSet<TopicName>(Comparer<TopicName>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString())));
        topics.UnionWith(workers.Keys);

        // And every source topic it has a subscription on (the loop below skips those without), running here or not: a
        // runner that has just started (or been moved back with a seek) has no worker for a topic yet, and leaving the
        // topic out would report its lag as 0. A refused topic has its own row below.
        foreach (var t in await sourceTopics(replicator, cancellationToken).ConfigureAwait(false))
        {
            if (snapshot?.Refused.ContainsKey(t) != true)
            {
                topics.Add(t);
            }
        }

        var result = new List<ReplicatorTopicStatus>();
        var anyFailed = snapshot?.Failure is not null;
        var anyRetrying = false;
        string? currentError = snapshot?.Failure;
        var nextAttempt = snapshot?.NextAttemptAt;
        long lag = 0;
        foreach (var topic in topics)
        {
            var info = await engine.GetAsync(topic, replicator.Subscription, cancellationToken).ConfigureAwait(false);
            workers.TryGetValue(topic, out var worker);
            if (info is null && worker is null)
            {
                // A source topic the replicator has not subscribed to (yet): nothing to report.
                continue;
            }
            var w = worker?.Snapshot();
            // A topic with no worker here: the runner's own failure if it failed, else running (starting, or on another gateway).
            var state = replicator.Stopped ? "stopped" : w?.State ?? (snapshot?.Failure is not null ? "failed" : "running");
            anyFailed |= state == "failed";
            anyRetrying |= state == "retrying";
            if (state is "failed" or "retrying" && currentError is null)
            {
                currentError = w?.LastError;
                nextAttempt = w?.NextAttemptAt;
            }

            var partitions = new List<ReplicatorPartitionStatus>();
            long topicLag = 0;
            foreach (var p in info?.Partitions ?? [])
            {
                var lane = w?.Lanes.GetValueOrDefault(p.Partition);
                partitions.Add(new ReplicatorPartitionStatus(p.Partition, p.CommittedOffset, p.EndOffset, p.Lag, lane?.Retrying ?? false, lane?.Error, lane?.Next));
                topicLag += p.Lag;
            }

            lag += topicLag;
            result.Add(new ReplicatorTopicStatus(topic.ToString(), worker?.Target, state, w?.LastError, w?.NextAttemptAt, topicLag, partitions));
        }

        foreach (var (topic, reason) in snapshot?.Refused ?? new Dictionary<TopicName, string>())
        {
            result.Add(new ReplicatorTopicStatus(topic.ToString(), null, "failed", reason, null, 0, []));
            anyFailed = true;
            currentError ??= reason;
        }

        var overall = replicator.Stopped ? "stopped" : anyFailed ? "failed" : anyRetrying ? "retrying" : "running";
        var (lastWriteAt, lastError, lastErrorAt) = counters.Times();
        return new ReplicatorStatus(
            replicator.Name,
            overall,
            workersHere,
            counters.Records,
            counters.Bytes,
            counters.Batches,
            counters.DeadLettered,
            counters.Retries,
            counters.Restarts,
            lastWriteAt,
            overall is "failed" or "retrying" ? currentError ?? lastError : lastError,
            lastErrorAt,
            overall is "failed" or "retrying" ? nextAttempt : null,
            lag,
            result);
    }
}
