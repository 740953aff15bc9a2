using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// Holds the registrations in memory (loaded from <see cref="ReplicatorStore"/>, followed in a fleet), one
/// <see cref="ReplicatorRunner"/> per running replicator when this gateway runs workers, and counters per replicator.
/// Admin operations are serialised; replication runs beside them.
/// </summary>
internal sealed partial class ReplicatorService : IReplicatorService, IAsyncDisposable
{
    private readonly ISubscriptionService _engine;
    private readonly IMessageLog _log;
    private readonly SinkCatalog _catalog;
    private readonly IServiceProvider _services;
    private readonly ReplicatorStore _store;
    private readonly ReplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _fleet;
    private readonly SemaphoreSlim _admin = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ReplicatorDefinition> _replicators = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ReplicatorRunner> _runners = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ReplicatorCounters> _counters = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopFollowing = new();
    private StateFollower? _follower;
    private bool _stopped;

    public ReplicatorService(ISubscriptionService engine, IMessageLog log, SinkCatalog catalog, IServiceProvider services, IOptions<ReplicationOptions> options, IPartitionCoordinator coordinator, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _engine = engine;
        _log = log;
        _catalog = catalog;
        _services = services;
        _store = new ReplicatorStore(log);
        _options = options.Value;
        _fleet = coordinator.IsShared;
        _time = time;
        _logger = loggerFactory.CreateLogger("Sluice.Core.Replication");
    }

    public async ValueTask StartAsync(CancellationToken cancellationToken = default)
    {
        var (loaded, next) = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var replicator in loaded)
            {
                Remember(replicator);
                StartRunner(replicator);
            }

            Log.Loaded(_logger, loaded.Count, _options.RunWorkers);
            if (_fleet)
            {
                _follower = new StateFollower(_log, ReplicatorStore.Topic, next, ApplyRemoteAsync, _time, _logger);
                _follower.Start(_stopFollowing.Token);
            }
        }
        finally
        {
            _admin.Release();
        }
    }

    public ValueTask SyncAsync(CancellationToken cancellationToken = default)
        => _follower?.CatchUpAsync(cancellationToken) ?? ValueTask.CompletedTask;

    public async ValueTask StopAsync(CancellationToken cancellationToken = default)
    {
        await _stopFollowing.CancelAsync().ConfigureAwait(false);
        List<ReplicatorRunner> runners;
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stopped = true;
            lock (_gate)
            {
                runners = [.. _runners.Values];
                _runners.Clear();
            }
        }
        finally
        {
            _admin.Release();
        }

        await Task.WhenAll(runners.Select(r => r.StopAsync())).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public IReadOnlyList<ReplicatorDefinition> List()
    {
        lock (_gate)
        {
            return [.. _replicators.Values.OrderBy(r => r.Name, StringComparer.Ordinal)];
        }
    }

    public ReplicatorDefinition? Get(string name)
    {
        lock (_gate)
        {
            return _replicators.GetValueOrDefault(name);
        }
    }

    public async ValueTask<ReplicatorDefinition> PutAsync(ReplicatorDefinition replicator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replicator);
        if (replicator.Validate() is { } problem)
        {
            throw new SinkSettingsException(problem.Field, problem.Reason);
        }

        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var previous = Get(replicator.Name);
            await StopRunnerAsync(replicator.Name).ConfigureAwait(false);
            try
            {
                await _store.SaveAsync(replicator, cancellationToken).ConfigureAwait(false);
            }
            catch when (previous is not null)
            {
                StartRunner(previous);
                throw;
            }

            Remember(replicator);
            StartRunner(replicator);
            if (previous is not null && previous.Source != replicator.Source)
            {
                // Topics the replicator no longer reads keep no subscription of it behind.
                await DeleteSubscriptionsAsync(previous, t => !replicator.Source.Covers(t), cancellationToken).ConfigureAwait(false);
            }

            Log.Stored(_logger, replicator.Name, replicator.Source.ToString(), replicator.SinkType, replicator.Stopped);
            return replicator;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<bool> DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var replicator = Get(name);
            if (replicator is null)
            {
                return false;
            }

            await StopRunnerAsync(name).ConfigureAwait(false);
            await _store.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _replicators.Remove(name);
                _counters.Remove(name);
            }

            await DeleteSubscriptionsAsync(replicator, _ => true, cancellationToken).ConfigureAwait(false);
            Log.Deleted(_logger, name);
            return true;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<ReplicatorDefinition?> SetStoppedAsync(string name, bool stopped, CancellationToken cancellationToken = default)
    {
        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var replicator = Get(name);
            if (replicator is null || replicator.Stopped == stopped)
            {
                return replicator;
            }

            var changed = replicator with { Stopped = stopped };
            await StopRunnerAsync(name).ConfigureAwait(false);
            await _store.SaveAsync(changed, cancellationToken).ConfigureAwait(false);
            Remember(changed);
            StartRunner(changed);
            Log.StoppedChanged(_logger, name, stopped);
            return changed;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<ReplicatorDefinition?> RestartAsync(string name, CancellationToken cancellationToken = default)
    {
        var replicator = Get(name);
        if (replicator is { Stopped: true })
        {
            return await SetStoppedAsync(name, false, cancellationToken).ConfigureAwait(false);
        }

        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            replicator = Get(name);
            if (replicator is null)
            {
                return null;
            }

            await StopRunnerAsync(name).ConfigureAwait(false);
            CountersOf(name).Restarted();
            StartRunner(replicator);
            return replicator;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<bool> SeekAsync(string name, ReplicatorSeek seek, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seek);
        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var replicator = Get(name);
            if (replicator is null)
            {
                return false;
            }

            if (!replicator.Stopped)
            {
                throw new ReplicatorNotStoppedException(name);
            }

            foreach (var topic in await SourceTopicsAsync(replicator, cancellationToken).ConfigureAwait(false))
            {
                var offsets = seek.Offsets.Where(o => (o.Topic ?? replicator.Source.Topic) == topic).ToList();
                if (seek.Position is null && offsets.Count == 0)
                {
                    continue;
                }

                // A topic the replicator never ran on has no subscription yet: made here so the seek has something to move.
                if (await _engine.GetSettingsAsync(topic, replicator.Subscription, cancellationToken).ConfigureAwait(false) is null)
                {
                    await _engine.CreateOrUpdateAsync(topic, replicator.Subscription, ReplicatorWorker.SubscriptionSettingsFor(replicator, topic), cancellationToken).ConfigureAwait(false);
                }

                if (seek.Position is { } position)
                {
                    await _engine.SeekAsync(topic, replicator.Subscription, position, cancellationToken).ConfigureAwait(false);
                }

                foreach (var o in offsets)
                {
                    await _engine.SeekAsync(topic, replicator.Subscription, StartPosition.AtOffset(o.Offset, o.Partition), cancellationToken).ConfigureAwait(false);
                }
            }

            Log.Seeked(_logger, name);
            return true;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<ReplicatorStatus?> GetStatusAsync(string name, CancellationToken cancellationToken = default)
    {
        await SyncAsync(cancellationToken).ConfigureAwait(false);
        ReplicatorDefinition? replicator;
        ReplicatorRunner? runner;
        ReplicatorCounters counters;
        lock (_gate)
        {
            replicator = _replicators.GetValueOrDefault(name);
            runner = _runners.GetValueOrDefault(name);
            counters = _counters.GetValueOrDefault(name) ?? new ReplicatorCounters();
        }

        if (replicator is null)
        {
            return null;
        }

        return await ReplicatorStatusBuilder.BuildAsync(replicator, runner, counters, _options.RunWorkers, _engine, SourceTopicsAsync, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await StopAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Out of time: what was not written is replicated again after the next start.
            }
        }
    }

    // The source topics that exist now: the topic itself, or the namespace's client topics.
    private async Task<IReadOnlyList<TopicName>> SourceTopicsAsync(ReplicatorDefinition replicator, CancellationToken cancellationToken)
    {
        if (replicator.Source.Topic is { } topic)
        {
            return [topic];
        }

        return [.. (await _log.ListTopicsAsync(cancellationToken).ConfigureAwait(false)).Where(replicator.Source.Covers)];
    }

    private async Task DeleteSubscriptionsAsync(ReplicatorDefinition replicator, Func<TopicName, bool> which, CancellationToken cancellationToken)
    {
        foreach (var topic in await SourceTopicsAsync(replicator, cancellationToken).ConfigureAwait(false))
        {
            if (which(topic))
            {
                try
                {
                    await _engine.DeleteAsync(topic, replicator.Subscription, cancellationToken).ConfigureAwait(false);
                }
                catch (TopicNotFoundException)
                {
                    // Gone with its topic.
                }
            }
        }
    }

    private void Remember(ReplicatorDefinition replicator)
    {
        lock (_gate)
        {
            _replicators[replicator.Name] = replicator;
            _counters.TryAdd(replicator.Name, new ReplicatorCounters());
        }
    }

    private ReplicatorCounters CountersOf(string name)
    {
        lock (_gate)
        {
            return _counters.TryGetValue(name, out var c) ? c : _counters[name] = new ReplicatorCounters();
        }
    }

    // Under _admin.
    private void StartRunner(ReplicatorDefinition replicator)
    {
        if (_stopped || replicator.Stopped || !_options.RunWorkers)
        {
            return;
        }

        var runner = new ReplicatorRunner(replicator, _catalog, _engine, _log, _services, CountersOf(replicator.Name), _options, _time, _logger);
        lock (_gate)
        {
            _runners[replicator.Name] = runner;
        }

        runner.Start();
    }

    // Under _admin.
    private async Task StopRunnerAsync(string name)
    {
        ReplicatorRunner? runner;
        lock (_gate)
        {
            _runners.Remove(name, out runner);
        }

        if (runner is not null)
        {
            await runner.StopAsync().ConfigureAwait(false);
        }
    }

    // A registration record written by any member; this member's own come back too and change nothing.
    private async ValueTask ApplyRemoteAsync(StoredRecord record)
    {
        await _admin.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_store.Change(record, Get) is not { } change)
            {
                return;
            }

            var (name, changed) = change;

            await StopRunnerAsync(name).ConfigureAwait(false);
            if (changed is null)
            {
                lock (_gate)
                {
                    _replicators.Remove(name);
                    _counters.Remove(name);
                }

                Log.Deleted(_logger, name);
                return;
            }

            Remember(changed);
            StartRunner(changed);
            Log.Stored(_logger, changed.Name, changed.Source.ToString(), changed.SinkType, changed.Stopped);
        }
        finally
        {
            _admin.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.ReplicatorsLoaded, LogLevel.Information, "Loaded {Count} replicators; this gateway runs them: {RunWorkers}")]
        public static partial void Loaded(ILogger logger, int count, bool runWorkers);

        [LoggerMessage(CoreEventIds.ReplicatorStored, LogLevel.Information, "Replicator {Name} stored: source {Source}, sink {SinkType}, stopped {Stopped}")]
        public static partial void Stored(ILogger logger, string name, string source, string sinkType, bool stopped);

        [LoggerMessage(CoreEventIds.ReplicatorDeleted, LogLevel.Information, "Replicator {Name} deleted")]
        public static partial void Deleted(ILogger logger, string name);

        [LoggerMessage(CoreEventIds.ReplicatorStoppedChanged, LogLevel.Information, "Replicator {Name} stopped: {Stopped}")]
        public static partial void StoppedChanged(ILogger logger, string name, bool stopped);

        [LoggerMessage(CoreEventIds.ReplicatorSeeked, LogLevel.Information, "Replicator {Name} moved to a new position")]
        public static partial void Seeked(ILogger logger, string name);
    }
}
