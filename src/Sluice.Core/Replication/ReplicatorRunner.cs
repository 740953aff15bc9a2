using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// Runs one replicator on this gateway: makes its sink, finds its source topics (a namespace source looks again every
/// <see cref="ReplicationOptions.DiscoveryInterval"/>, so topics created later are picked up within seconds), and keeps one
/// <see cref="ReplicatorWorker"/> per topic. A namespace source leaves out its own dead-letter topics.
/// </summary>
internal sealed partial class ReplicatorRunner
{
    private readonly ReplicatorDefinition _definition;
    private readonly SinkCatalog _catalog;
    private readonly ISubscriptionService _engine;
    private readonly IMessageLog _log;
    private readonly IServiceProvider _services;
    private readonly ReplicatorCounters _counters;
    private readonly ReplicationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<TopicName, ReplicatorWorker> _workers = [];
    private readonly Dictionary<TopicName, string> _refused = [];
    private Task _loop = Task.CompletedTask;
    private IReplicationSink? _sink;
    private string? _failure;
    private DateTimeOffset? _nextAttemptAt;

    public ReplicatorRunner(ReplicatorDefinition definition, SinkCatalog catalog, ISubscriptionService engine, IMessageLog log, IServiceProvider services, ReplicatorCounters counters, ReplicationOptions options, TimeProvider time, ILogger logger)
    {
        _definition = definition;
        _catalog = catalog;
        _engine = engine;
        _log = log;
        _services = services;
        _counters = counters;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public void Start()
    {
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(RunAsync);
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        List<ReplicatorWorker> workers;
        lock (_gate)
        {
            workers = [.. _workers.Values];
            _workers.Clear();
        }

        await Task.WhenAll(workers.Select(w => w.StopAsync())).ConfigureAwait(false);
        if (_sink is { } sink)
        {
            try
            {
                await sink.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.SinkFailed(_logger, _definition.Name, Scrub($"closing the sink failed: {ex.GetType().Name}: {ex.Message}"));
            }
        }
    }

    /// <summary>The runner's own failure (its sink could not be made), its workers, and topics refused as targets.</summary>
    public (string? Failure, DateTimeOffset? NextAttemptAt, IReadOnlyList<ReplicatorWorker> Workers, IReadOnlyDictionary<TopicName, string> Refused) Snapshot()
    {
        lock (_gate)
        {
            return (_failure, _nextAttemptAt, [.. _workers.Values.OrderBy(w => w.Topic.ToString(), StringComparer.Ordinal)], new Dictionary<TopicName, string>(_refused));
        }
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        var pause = TimeSpan.FromSeconds(1);
        PreparedSink? prepared = null;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (prepared is null)
                {
                    prepared = _catalog.Prepare(_definition);
                    _sink = prepared.Type.CreateSink(prepared.Settings, Context());
                    lock (_gate)
                    {
                        _failure = null;
                        _nextAttemptAt = null;
                    }
                }

                await DiscoverAsync(prepared, stop).ConfigureAwait(false);
                pause = TimeSpan.FromSeconds(1);
                if (!_definition.Source.IsNamespace)
                {
                    // One topic: its worker waits for it if it does not exist yet; nothing more to discover.
                    return;
                }

                await Task.Delay(_options.DiscoveryInterval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                var error = ex is SinkSettingsException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}";
                error = Scrub(error);
                if (_sink is null)
                {
                    // The sink could not be made (its type missing on this gateway, settings this version refuses): failed,
                    // tried again after a pause that doubles up to a minute.
                    lock (_gate)
                    {
                        _failure = "the sink cannot be started: " + error;
                        _nextAttemptAt = _time.GetUtcNow() + pause;
                    }

                    prepared = null;
                    _counters.Error(_failure, _time.GetUtcNow());
                    Log.SinkFailed(_logger, _definition.Name, error);
                }
                else
                {
                    Log.DiscoveryFailed(_logger, _definition.Name, error);
                }

                try
                {
                    await Task.Delay(pause, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
            }
        }
    }

    private async Task DiscoverAsync(PreparedSink prepared, CancellationToken cancellationToken)
    {
        IReadOnlyList<TopicName> topics;
        if (_definition.Source.Topic is { } single)
        {
            topics = [single];
        }
        else
        {
            var inNamespace = (await _log.ListTopicsAsync(cancellationToken).ConfigureAwait(false)).Where(_definition.Source.Covers).ToList();
            var deadLetters = new HashSet<TopicName>(inNamespace.Select(_definition.DeadLetterTopicFor));
            topics = [.. inNamespace.Where(t => !deadLetters.Contains(t))];
        }

        List<ReplicatorWorker> gone = [];
        lock (_gate)
        {
            foreach (var (topic, worker) in _workers.Where(w => !topics.Contains(w.Key)).ToList())
            {
                _workers.Remove(topic);
                gone.Add(worker);
            }

            foreach (var topic in _refused.Keys.Where(t => !topics.Contains(t)).ToList())
            {
                _refused.Remove(topic);
            }
        }

        foreach (var worker in gone)
        {
            Log.TopicRemoved(_logger, _definition.Name, worker.Topic.ToString());
            await worker.StopAsync().ConfigureAwait(false);
        }

        foreach (var topic in topics)
        {
            bool known;
            lock (_gate)
            {
                known = _workers.ContainsKey(topic) || _refused.ContainsKey(topic);
            }

            if (known)
            {
                continue;
            }

            var target = prepared.TargetFor(topic);
            var refused = target is null
                ? $"no target for topic {topic}: it is not in sink.targets and sink.{prepared.Type.TargetField} is not given"
                : await prepared.Type.CheckTargetAsync(prepared.Settings, target, Context(), cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                refused = Scrub(refused);
                lock (_gate)
                {
                    _refused[topic] = refused;
                }

                Log.TopicRefused(_logger, _definition.Name, topic.ToString(), refused);
                continue;
            }

            var worker = new ReplicatorWorker(_definition, topic, target!, _sink!, prepared.Type.Name, _engine, _counters, _time, _logger);
            lock (_gate)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                _workers[topic] = worker;
            }

            worker.Start();
            Log.TopicAdded(_logger, _definition.Name, topic.ToString(), Scrub(target!));
        }
    }

    private SinkContext Context() => new(_definition.Name, _services, _logger, _time);

    private string Scrub(string text) => SecretReferences.Scrub(text, _definition.Secrets);

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.ReplicatorSinkFailed, LogLevel.Error, "Replicator {Name}: {Error}")]
        public static partial void SinkFailed(ILogger logger, string name, string error);

        [LoggerMessage(CoreEventIds.ReplicatorTopicAdded, LogLevel.Information, "Replicator {Name}: replicating topic {Topic} to {Target}")]
        public static partial void TopicAdded(ILogger logger, string name, string topic, string target);

        [LoggerMessage(CoreEventIds.ReplicatorTopicRemoved, LogLevel.Information, "Replicator {Name}: topic {Topic} is gone; its worker stopped")]
        public static partial void TopicRemoved(ILogger logger, string name, string topic);

        [LoggerMessage(CoreEventIds.ReplicatorTopicRefused, LogLevel.Warning, "Replicator {Name}: topic {Topic} is not replicated: {Reason}")]
        public static partial void TopicRefused(ILogger logger, string name, string topic, string reason);

        [LoggerMessage(CoreEventIds.ReplicatorDiscoveryFailed, LogLevel.Warning, "Replicator {Name}: looking for source topics failed: {Error}")]
        public static partial void DiscoveryFailed(ILogger logger, string name, string error);
    }
}
