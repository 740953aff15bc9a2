using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Webhooks;

/// <summary>
/// Holds the registrations in memory (loaded once from <see cref="WebhookStore"/>), one <see cref="WebhookWorker"/> per
/// running webhook, one <see cref="CircuitBreaker"/> per URL authority, and counters per webhook.
/// Admin operations are serialised; delivery runs beside them.
/// </summary>
internal sealed partial class WebhookService : IWebhookService, IAsyncDisposable
{
    // Above the call timeout, so a slow call is settled before its lease could expire and race a redelivery.
    private static readonly TimeSpan AckDeadlineMargin = TimeSpan.FromSeconds(30);

    private readonly ISubscriptionService _engine;
    private readonly IWebhookTransport _transport;
    private readonly WebhookStore _store;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookService> _logger;
    private readonly SemaphoreSlim _admin = new(1, 1);
    private readonly Dictionary<string, WebhookDefinition> _webhooks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WebhookWorker> _workers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WebhookCounters> _counters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CircuitBreaker> _breakers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _gate = new();
    private readonly IMessageLog _log;
    private readonly bool _fleet;
    private readonly CancellationTokenSource _stopFollowing = new();
    private StateFollower? _follower;
    private bool _stopped;

    public WebhookService(ISubscriptionService engine, IWebhookTransport transport, IMessageLog log, IOptions<WebhookOptions> options, TimeProvider time, ILogger<WebhookService> logger, IPartitionCoordinator coordinator)
    {
        _engine = engine;
        _log = log;
        _fleet = coordinator.IsShared;
        _transport = transport;
        _store = new WebhookStore(log);
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public async ValueTask StartAsync(CancellationToken cancellationToken = default)
    {
        var (loaded, next) = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var webhook in loaded)
            {
                lock (_gate)
                {
                    _webhooks[webhook.Id] = webhook;
                    _counters.TryAdd(webhook.Id, new WebhookCounters());
                }

                if (!webhook.Paused)
                {
                    StartWorker(webhook);
                }
            }

            Log.Loaded(_logger, loaded.Count);
            if (_fleet)
            {
                // Registrations, changes, pauses and deletes made on other members of the fleet.
                _follower = new StateFollower(_log, WebhookStore.Topic, next, ApplyRemoteAsync, _time, _logger);
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
        List<WebhookWorker> workers;
        await _stopFollowing.CancelAsync().ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stopped = true;
            lock (_gate)
            {
                workers = [.. _workers.Values];
                _workers.Clear();
            }
        }
        finally
        {
            _admin.Release();
        }

        await Task.WhenAll(workers.Select(w => w.StopAsync(cancellationToken))).ConfigureAwait(false);
    }

    public IReadOnlyList<WebhookDefinition> List()
    {
        lock (_gate)
        {
            return [.. _webhooks.Values.OrderBy(w => w.Id, StringComparer.Ordinal)];
        }
    }

    public WebhookDefinition? Get(string id)
    {
        lock (_gate)
        {
            return _webhooks.GetValueOrDefault(id);
        }
    }

    public async ValueTask<WebhookDefinition> PutAsync(WebhookDefinition webhook, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        if (webhook.Validate() is { } reason)
        {
            throw new ArgumentException(reason, nameof(webhook));
        }

        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var previous = Get(webhook.Id);
            if (previous is not null)
            {
                // Stopped first: the subscription's type may change only while no consumer is attached.
                await StopWorkerAsync(webhook.Id).ConfigureAwait(false);
            }

            var owns = previous is not null && previous.Topic == webhook.Topic && previous.Subscription == webhook.Subscription
                ? previous.OwnsSubscription
                : false;
            var settings = SubscriptionSettingsFor(webhook);
            var existing = await _engine.GetAsync(webhook.Topic, webhook.Subscription, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                owns = true;
            }
            else
            {
                // Keep the position and max deliveries someone gave the subscription; the webhook decides the rest. The
                // filter is fixed: a webhook without one takes the subscription's, another one is refused by the engine.
                settings = existing.Settings with
                {
                    Type = settings.Type,
                    AckDeadline = settings.AckDeadline,
                    DeadLetterTopic = settings.DeadLetterTopic,
                    Filter = webhook.Filter ?? existing.Settings.Filter,
                };
            }

            var stored = webhook with { OwnsSubscription = owns, Filter = settings.Filter };
            try
            {
                await _engine.CreateOrUpdateAsync(webhook.Topic, webhook.Subscription, settings, cancellationToken).ConfigureAwait(false);
                await _store.SaveAsync(stored, cancellationToken).ConfigureAwait(false);
            }
            catch when (previous is { Paused: false })
            {
                // Refused (say, an ordering change while the old consumer's session lasts) or failed: keep delivering as before.
                StartWorker(previous);
                throw;
            }

            lock (_gate)
            {
                _webhooks[stored.Id] = stored;
                _counters.TryAdd(stored.Id, new WebhookCounters());
            }

            if (!stored.Paused)
            {
                StartWorker(stored);
            }

            if (previous is { OwnsSubscription: true } && (previous.Topic != stored.Topic || previous.Subscription != stored.Subscription))
            {
                // Moved to another subscription: the one this webhook created would otherwise be left behind.
                await _engine.DeleteAsync(previous.Topic, previous.Subscription, cancellationToken).ConfigureAwait(false);
            }

            Log.Stored(_logger, stored.Id, stored.Topic.ToString(), stored.Subscription, stored.Url.GetLeftPart(UriPartial.Authority));
            return stored;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var webhook = Get(id);
            if (webhook is null)
            {
                return false;
            }

            await StopWorkerAsync(id).ConfigureAwait(false);
            await _store.DeleteAsync(id, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _webhooks.Remove(id);
                _counters.Remove(id);
            }

            if (webhook.OwnsSubscription)
            {
                await _engine.DeleteAsync(webhook.Topic, webhook.Subscription, cancellationToken).ConfigureAwait(false);
            }

            Log.Deleted(_logger, id);
            return true;
        }
        finally
        {
            _admin.Release();
        }
    }

    public async ValueTask<WebhookDefinition?> SetPausedAsync(string id, bool paused, CancellationToken cancellationToken = default)
    {
        await SyncAsync(cancellationToken).ConfigureAwait(false);
        await _admin.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var webhook = Get(id);
            if (webhook is null || webhook.Paused == paused)
            {
                return webhook;
            }

            var changed = webhook with { Paused = paused };
            await _store.SaveAsync(changed, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _webhooks[id] = changed;
            }

            if (paused)
            {
                await StopWorkerAsync(id).ConfigureAwait(false);
            }
            else
            {
                StartWorker(changed);
            }

            Log.PausedChanged(_logger, id, paused);
            return changed;
        }
        finally
        {
            _admin.Release();
        }
    }

    public WebhookStats? GetStats(string id)
    {
        lock (_gate)
        {
            if (!_webhooks.TryGetValue(id, out var webhook) || !_counters.TryGetValue(id, out var counters))
            {
                return null;
            }

            return counters.Snapshot(id, webhook.Paused, BreakerFor(webhook.Url).Info());
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        if (!_stopped)
        {
            await StopAsync(cts.Token).ConfigureAwait(false);
        }
    }

    private void StartWorker(WebhookDefinition webhook)
    {
        if (_stopped || !_options.RunWorkers)
        {
            return;
        }

        WebhookWorker worker;
        lock (_gate)
        {
            worker = new WebhookWorker(webhook, _engine, _transport, BreakerFor(webhook.Url), _counters[webhook.Id], _time, _logger);
            _workers[webhook.Id] = worker;
        }

        worker.Start();
    }

    private async Task StopWorkerAsync(string id)
    {
        WebhookWorker? worker;
        lock (_gate)
        {
            _workers.Remove(id, out worker);
        }

        if (worker is not null)
        {
            // Calls in flight are bounded by the webhook's timeout; settle them before the caller changes anything.
            await worker.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    // Under _gate.
    private CircuitBreaker BreakerFor(Uri url)
    {
        var authority = url.GetLeftPart(UriPartial.Authority);
        if (!_breakers.TryGetValue(authority, out var breaker))
        {
            breaker = new CircuitBreaker(_options, _time);
            _breakers[authority] = breaker;
        }

        return breaker;
    }

    /// <summary>What the webhook needs of its subscription (it keeps a position and max deliveries someone else set).</summary>
    internal static SubscriptionSettings SubscriptionSettingsFor(WebhookDefinition webhook) => new()
    {
        Type = webhook.Ordering == WebhookOrdering.PerKey ? SubscriptionType.KeyShared : SubscriptionType.Shared,
        AckDeadline = Min(webhook.Timeout + webhook.Timeout + AckDeadlineMargin, TimeSpan.FromHours(12)),
        DeadLetterTopic = webhook.DeadLetterTopic,
        Filter = webhook.Filter,
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

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

            var (id, changed) = change;

            await StopWorkerAsync(id).ConfigureAwait(false);
            if (changed is null)
            {
                lock (_gate)
                {
                    _webhooks.Remove(id);
                    _counters.Remove(id);
                }

                Log.Deleted(_logger, id);
                return;
            }

            lock (_gate)
            {
                _webhooks[id] = changed;
                _counters.TryAdd(id, new WebhookCounters());
            }

            if (!changed.Paused)
            {
                StartWorker(changed);
            }

            Log.Stored(_logger, changed.Id, changed.Topic.ToString(), changed.Subscription, changed.Url.GetLeftPart(UriPartial.Authority));
        }
        finally
        {
            _admin.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.WebhooksLoaded, LogLevel.Information, "Loaded {Count} webhooks")]
        public static partial void Loaded(ILogger logger, int count);

        [LoggerMessage(CoreEventIds.WebhookStored, LogLevel.Information, "Webhook {Id} stored: topic {Topic}, subscription {Subscription}, endpoint {Endpoint}")]
        public static partial void Stored(ILogger logger, string id, string topic, string subscription, string endpoint);

        [LoggerMessage(CoreEventIds.WebhookDeleted, LogLevel.Information, "Webhook {Id} deleted")]
        public static partial void Deleted(ILogger logger, string id);

        [LoggerMessage(CoreEventIds.WebhookPausedChanged, LogLevel.Information, "Webhook {Id} paused: {Paused}")]
        public static partial void PausedChanged(ILogger logger, string id, bool paused);
    }
}
