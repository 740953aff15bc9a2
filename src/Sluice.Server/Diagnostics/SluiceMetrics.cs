using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;
using Sluice.Server.Configuration;

namespace Sluice.Server.Diagnostics;

/// <summary>
/// The <c>Sluice</c> meter: messages per topic and per subscription, subscription gauges and webhook instruments, named
/// after OpenTelemetry's messaging conventions where one exists (<c>messaging.client.sent.messages</c>,
/// <c>messaging.client.consumed.messages</c>, attributes <c>messaging.system</c>, <c>messaging.destination.name</c>,
/// <c>messaging.destination.subscription.name</c>). Every per-topic or per-subscription instrument is observable: the
/// hot paths add to plain counters (<see cref="TopicCounter"/>, the engine's <c>SubscriptionCounters</c>) and the
/// label policy (<see cref="MetricLabels"/>) is applied once per collection, not once per message.
/// Request durations come from ASP.NET Core's own <c>http.server.request.duration</c>.
/// </summary>
internal sealed class SluiceMetrics : IDisposable
{
    public const string MeterName = "Sluice";

    private const string System = "sluice";
    private readonly Meter _meter;
    private readonly MetricLabels _labels;
    private readonly IServiceProvider _services;

    public SluiceMetrics(IMeterFactory meterFactory, IOptions<ServerOptions> options, IServiceProvider services)
    {
        _meter = meterFactory.Create(MeterName);
        _services = services;
        _labels = new MetricLabels(options.Value.MetricsLabels, options.Value.MetricsMaxSeries);
        Produced = new TopicCounter(options.Value.MetricsMaxSeries);

        _meter.CreateObservableCounter("messaging.client.sent.messages", () => Topics(Produced.Read(), "send"), "{message}",
            "Messages appended to topics by producers through this gateway (every API; dead-letter and delayed appends not included)");
        Subscriptions("messaging.client.consumed.messages", c => c.Delivered, "Messages delivered to consumers (pull, streams, webhooks), redeliveries included", "receive");
        Subscriptions("sluice.subscription.redelivered", c => c.Redelivered, "Deliveries with an attempt above 1");
        Subscriptions("sluice.subscription.acked", c => c.Acked, "Messages acked", "ack");
        Subscriptions("sluice.subscription.nacked", c => c.Nacked, "Messages nacked (handed back for redelivery)", "nack");
        Subscriptions("sluice.subscription.lease_expired", c => c.LeasesExpired, "Leases whose ack deadline passed");
        Subscriptions("sluice.subscription.dead_lettered", c => c.DeadLettered, "Messages moved to a dead-letter topic");
        Subscriptions("sluice.subscription.filtered_out", c => c.FilteredOut, "Messages a subscription's filter did not match: acked without delivery");
        Subscriptions("sluice.subscription.receiver_wakeups", c => c.Wakeups,
            "Waiting receives woken by a change (shared and exclusive: one per change, not one per waiting connection)", unit: "{wakeup}");
        _meter.CreateObservableUpDownCounter("sluice.subscription.waiting_receivers", () => SubscriptionMeasurements(c => c.WaitingReceivers, null),
            "{receive}", "Receives (long-polls, streams) waiting for messages");

        Gauge("sluice.subscription.lag", s => s.Lag, "{message}", "Messages not yet acked: end offsets minus committed offsets");
        Gauge("sluice.subscription.backlog", s => s.Backlog, "{message}", "Messages waiting for delivery");
        Gauge("sluice.subscription.in_flight", s => s.InFlight, "{message}", "Messages delivered and not yet acked");
        Gauge("sluice.subscription.consumers", s => s.Consumers, "{consumer}", "Consumers attached");

        Webhooks("sluice.webhook.delivered", s => s.Delivered, "{message}", "Messages a webhook's URL accepted (2xx)", counter: true);
        Webhooks("sluice.webhook.failed", s => s.Failed, "{call}", "Webhook calls that failed (error answer, timeout, connection error)", counter: true);
        Webhooks("sluice.webhook.retried", s => s.Retried, "{call}", "Webhook calls retried", counter: true);
        Webhooks("sluice.webhook.dead_lettered", s => s.DeadLettered, "{message}", "Messages a webhook sent to its dead-letter topic", counter: true);
        Webhooks("sluice.webhook.in_flight", s => s.InFlight, "{call}", "Webhook calls in flight", counter: false);
        Webhooks("sluice.webhook.breaker.state", s => BreakerState(s.Breaker.State), "1", "The endpoint's circuit breaker: 0 closed, 1 half open, 2 open", counter: false);
        _meter.CreateObservableGauge("sluice.webhook.lag", WebhookLag, "{message}", "Messages of the webhook's subscription not yet acked");

        // Replicators count their writes themselves (meter Sluice.Replication); their state and lag come from the sample.
        _meter.CreateObservableGauge("sluice.replicator.lag", () => Replicators(r => r.Lag), "{record}", "Records of the replicator's source topics not yet written to the target");
        _meter.CreateObservableGauge("sluice.replicator.state", () => Replicators(r => ReplicatorState(r.State)), "1",
            "The replicator's state: 0 running, 1 retrying (the target fails: writes back off), 2 stopped, 3 failed");
    }

    /// <summary>Messages produced, per topic; add after the append succeeded.</summary>
    public TopicCounter Produced { get; }

    public void Dispose() => _meter.Dispose();

    private void Subscriptions(string name, Func<SubscriptionCounts, long> value, string description, string? operation = null, string unit = "{message}")
        => _meter.CreateObservableCounter(name, () => SubscriptionMeasurements(value, operation), unit, description);

    private IEnumerable<Measurement<long>> SubscriptionMeasurements(Func<SubscriptionCounts, long> value, string? operation)
    {
        var counts = new List<SubscriptionCounts>();
        _services.GetRequiredService<ISubscriptionService>().CollectCounts(counts);
        return Report(_labels.Aggregate(counts.Select(c => (c.Topic.ToString(), (string?)c.Name, value(c)))), operation);
    }

    private void Gauge(string name, Func<SubscriptionSampler.Sample, long> value, string unit, string description)
        => _meter.CreateObservableGauge(name, () =>
        {
            var samples = _services.GetRequiredService<SubscriptionSampler>().Current();
            return Report(_labels.Aggregate(samples.Select(s => (s.Topic.ToString(), (string?)s.Name, value(s)))), null);
        }, unit, description);

    private IEnumerable<Measurement<long>> Topics(IEnumerable<(string Topic, string? Subscription, long Value)> values, string operation)
        => Report(_labels.Aggregate(values), operation);

    private IEnumerable<Measurement<long>> Report(List<MetricLabels.Series> series, string? operation)
    {
        var measurements = new List<Measurement<long>>(series.Count);
        foreach (var s in series)
        {
            var tags = new TagList { { "messaging.system", System } };
            if (_labels.KeepTopic)
            {
                tags.Add("messaging.destination.name", s.Topic);
            }

            if (_labels.KeepSubscription && s.Subscription.Length > 0)
            {
                tags.Add("messaging.destination.subscription.name", s.Subscription);
            }

            if (operation is not null)
            {
                tags.Add("messaging.operation.name", operation);
            }

            measurements.Add(new Measurement<long>(s.Value, tags));
        }

        return measurements;
    }

    // Webhooks are few (each is a registration), but a cap still applies: the first ones by id.
    private void Webhooks(string name, Func<WebhookStats, long> value, string unit, string description, bool counter)
    {
        if (counter)
        {
            _meter.CreateObservableCounter(name, () => WebhookMeasurements(value), unit, description);
        }
        else
        {
            _meter.CreateObservableGauge(name, () => WebhookMeasurements(value), unit, description);
        }
    }

    private List<Measurement<long>> WebhookMeasurements(Func<WebhookStats, long> value)
    {
        var webhooks = _services.GetRequiredService<IWebhookService>();
        var measurements = new List<Measurement<long>>();
        foreach (var webhook in webhooks.List().OrderBy(w => w.Id, StringComparer.Ordinal).Take(_labels.MaxSeries))
        {
            if (webhooks.GetStats(webhook.Id) is { } stats)
            {
                measurements.Add(new Measurement<long>(value(stats), WebhookTags(webhook)));
            }
        }

        return measurements;
    }

    private List<Measurement<long>> WebhookLag()
    {
        var lag = new Dictionary<(string, string), long>();
        foreach (var s in _services.GetRequiredService<SubscriptionSampler>().Current())
        {
            lag[(s.Topic.ToString(), s.Name)] = s.Lag;
        }

        var measurements = new List<Measurement<long>>();
        foreach (var webhook in _services.GetRequiredService<IWebhookService>().List().OrderBy(w => w.Id, StringComparer.Ordinal).Take(_labels.MaxSeries))
        {
            if (lag.TryGetValue((webhook.Topic.ToString(), webhook.Subscription), out var value))
            {
                measurements.Add(new Measurement<long>(value, WebhookTags(webhook)));
            }
        }

        return measurements;
    }

    private List<Measurement<long>> Replicators(Func<SubscriptionSampler.ReplicatorSample, long> value)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var r in _services.GetRequiredService<SubscriptionSampler>().Replicators().Take(_labels.MaxSeries))
        {
            measurements.Add(new Measurement<long>(value(r), new TagList { { "sluice.replicator", r.Name }, { "sluice.sink", r.Sink } }));
        }

        return measurements;
    }

    private static long ReplicatorState(string state) => state switch
    {
        "retrying" => 1,
        "stopped" => 2,
        "failed" => 3,
        _ => 0,
    };

    private static TagList WebhookTags(WebhookDefinition webhook) => new()
    {
        { "messaging.system", System },
        { "sluice.webhook.id", webhook.Id },
        { "messaging.destination.name", webhook.Topic.ToString() },
        { "messaging.destination.subscription.name", webhook.Subscription },
    };

    private static long BreakerState(string state) => state switch
    {
        "open" => 2,
        "half_open" => 1,
        _ => 0,
    };
}
