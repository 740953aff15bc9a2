using Microsoft.Extensions.Logging;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Delay;

/// <summary>
/// One source topic's holding topic on this instance, and the schedulers of the holding partitions this instance owns:
/// every partition on one instance; in a fleet, those the holding topic's consumer group assigns to it
/// (<see cref="IPartitionCoordinator"/>), so each partition has one owner and a dead instance's partitions move.
/// <code>
///   one instance: Activate ──► a scheduler per partition (more when the topic grows)
///   fleet:        Activate ──► join group "{prefix}{holding}.delay.0" ──► OnAssigned(p): catch up the state topic,
///                 start p's scheduler from its durable watermark ──► OnRevoked(p): stop it, write its watermark
/// </code>
/// </summary>
internal sealed partial class HoldingTopic : IPartitionAssignmentHandler
{
    /// <summary>The group's "subscription" name: the holding topic's own group, apart from any real subscription.</summary>
    private const string GroupName = "delay";

    // A fleet member may learn of a holding topic before its creator made it: it looks again this often.
    private static readonly TimeSpan ExistsPoll = TimeSpan.FromMilliseconds(500);

    // A failed join (the cluster unreachable) is tried again this often.
    private static readonly TimeSpan JoinRetry = TimeSpan.FromSeconds(5);

    private readonly DelayService _service;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, PartitionScheduler> _schedulers = [];
    private readonly SemaphoreSlim _membershipLock = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IPartitionMembership? _membership;
    private bool _joining;
    private bool _persistOnStop = true;
    private bool _closed;

    public HoldingTopic(DelayService service, TopicName source, long generation)
    {
        _service = service;
        Source = source;
        Generation = generation;
        Holding = DelayTopics.HoldingName(source, generation);
    }

    public TopicName Source { get; }

    public TopicName Holding { get; }

    public long Generation { get; }

    /// <summary>The holding topic's partitions as last seen (0 until it exists).</summary>
    public int PartitionCount { get; set; }

    /// <summary>
    /// Completes once this instance knows which partitions it owns: at once on one instance; in a fleet after its
    /// first assignment (or when closed).
    /// </summary>
    public Task Joined => _service.Coordinator.IsShared ? _joined.Task : Task.CompletedTask;

    /// <summary>The schedulers of the partitions this instance owns.</summary>
    public IReadOnlyList<PartitionScheduler> Owned()
    {
        lock (_gate)
        {
            return [.. _schedulers.Values];
        }
    }

    /// <summary>Starts scheduling: every partition on one instance, or joining the group in a fleet (in the background).</summary>
    public void Activate()
    {
        if (!_service.Coordinator.IsShared)
        {
            lock (_gate)
            {
                for (var p = 0; p < PartitionCount && !_closed; p++)
                {
                    StartLocked(p);
                }
            }

            return;
        }

        lock (_gate)
        {
            if (_joining || _closed)
            {
                return;
            }

            _joining = true;
        }

        _ = Task.Run(JoinAsync, CancellationToken.None);
    }

    /// <summary>Stops every scheduler here and leaves the group; without <paramref name="persist"/> the topic is being deleted.</summary>
    public async Task CloseAsync(bool persist)
    {
        List<PartitionScheduler> stopping;
        lock (_gate)
        {
            _closed = true;
            _persistOnStop = persist;
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        _joined.TrySetResult();
        await _membershipLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_membership is { } membership)
            {
                // Leaving revokes what this instance owned: OnRevokedAsync stops those schedulers first.
                _membership = null;
                await membership.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _membershipLock.Release();
        }

        lock (_gate)
        {
            stopping = [.. _schedulers.Values];
            _schedulers.Clear();
        }

        await Task.WhenAll(stopping.Select(s => s.StopAsync(persist))).ConfigureAwait(false);
    }

    async Task IPartitionAssignmentHandler.OnAssignedAsync(IReadOnlyList<int> partitions)
    {
        if (partitions.Count == 0)
        {
            return;
        }

        // The previous owner wrote its watermark before the group moved on: read the state topic up to now.
        await _service.CatchUpStateAsync(CancellationToken.None).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var p in partitions)
            {
                if (!_closed)
                {
                    PartitionCount = Math.Max(PartitionCount, p + 1);
                    StartLocked(p);
                }
            }
        }

        Log.Assigned(_service.Logger, Holding, string.Join(',', partitions));
    }

    async Task IPartitionAssignmentHandler.OnRevokedAsync(IReadOnlyList<int> partitions)
    {
        List<PartitionScheduler> stopping = [];
        bool persist;
        lock (_gate)
        {
            foreach (var p in partitions)
            {
                if (_schedulers.Remove(p, out var s))
                {
                    stopping.Add(s);
                }
            }

            persist = _persistOnStop;
        }

        // The hand-over waits for the watermarks: the next owner starts from them.
        await Task.WhenAll(stopping.Select(s => s.StopAsync(persist))).ConfigureAwait(false);
        Log.Revoked(_service.Logger, Holding, string.Join(',', partitions));
    }

    // Under _gate.
    private void StartLocked(int partition)
    {
        if (_schedulers.ContainsKey(partition))
        {
            return;
        }

        var scheduler = new PartitionScheduler(_service, Source, Holding, partition, Generation);
        _schedulers[partition] = scheduler;
        scheduler.Start(_service.GetWatermark(Holding, partition));
    }

    private async Task JoinAsync()
    {
        var token = _closing.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                // The instance that registered the topic creates it right after: joining a group for a topic Kafka does
                // not know yet would leave the partitions unassigned until the next metadata refresh (minutes).
                int? count;
                while ((count = await _service.MessageLog.GetPartitionCountAsync(Holding, token).ConfigureAwait(false)) is null)
                {
                    await Task.Delay(ExistsPoll, _service.Time, token).ConfigureAwait(false);
                }

                PartitionCount = Math.Max(PartitionCount, count.Value);
                await _membershipLock.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    if (!_closed && _membership is null)
                    {
                        _membership = await _service.Coordinator.JoinAsync(Holding, GroupName, 0, this, token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _membershipLock.Release();
                }

                _joined.TrySetResult();
                return;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return; // closed before it joined
            }
            catch (Exception ex)
            {
                Log.JoinFailed(_service.Logger, Holding, ex);
                try
                {
                    await Task.Delay(JoinRetry, _service.Time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.DelayPartitionsAssigned, LogLevel.Information, "Holding topic '{Holding}': this instance now schedules partitions {Partitions}")]
        public static partial void Assigned(ILogger logger, TopicName holding, string partitions);

        [LoggerMessage(CoreEventIds.DelayPartitionsRevoked, LogLevel.Information, "Holding topic '{Holding}': partitions {Partitions} handed over")]
        public static partial void Revoked(ILogger logger, TopicName holding, string partitions);

        [LoggerMessage(CoreEventIds.DelayJoinFailed, LogLevel.Error, "Holding topic '{Holding}': joining its group failed; retrying in 5 s (other instances schedule its partitions meanwhile)")]
        public static partial void JoinFailed(ILogger logger, TopicName holding, Exception exception);
    }
}
