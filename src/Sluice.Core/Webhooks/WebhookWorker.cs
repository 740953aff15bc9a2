using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Webhooks;

/// <summary>
/// Delivers one webhook: one consumer of its subscription, up to <see cref="WebhookDefinition.Concurrency"/> calls at once.
/// <code>
///   breaker allows? ──► free slots? ──► ReceiveAsync(free) ──► call ──┬─ 2xx ─────────────► ack
///        (open: wait,      (wait)                                     ├─ retryable ───────► nack(backoff ≥ Retry-After)
///         half-open: 1)                                               │    or, exhausted ─► dead-letter
///                                                                     └─ other 4xx ───────► dead-letter
/// </code>
/// Retries are the engine's redeliveries (attempt + 1), so a key_shared subscription keeps a key's later messages back
/// while an earlier one waits for its retry: per-key order holds through retries.
/// </summary>
internal sealed partial class WebhookWorker
{
    // How long one receive waits before the loop looks at the breaker and the stop signal again.
    private static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(2);

    // Pauses before opening again after a failure: the first, the longest, and the longest while the topic is missing
    // (a topic created again should be served soon; polling every 5 s costs nothing).
    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxPause = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxTopicPause = TimeSpan.FromSeconds(5);

    private readonly WebhookDefinition _webhook;
    private readonly ISubscriptionService _engine;
    private readonly IWebhookTransport _transport;
    private readonly CircuitBreaker _breaker;
    private readonly WebhookCounters _counters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();

    // One slot per call in flight, released once the call is settled: holding every slot means no call is left.
    private readonly SemaphoreSlim _slots;
    private Task _loop = Task.CompletedTask;

    public WebhookWorker(WebhookDefinition webhook, ISubscriptionService engine, IWebhookTransport transport, CircuitBreaker breaker, WebhookCounters counters, TimeProvider time, ILogger logger)
    {
        _webhook = webhook;
        _engine = engine;
        _transport = transport;
        _breaker = breaker;
        _counters = counters;
        _time = time;
        _logger = logger;
        _slots = new SemaphoreSlim(webhook.Concurrency, webhook.Concurrency);
    }

    public void Start()
    {
        // The loops outlive whatever started them (often the admin request that created the webhook): without this they
        // would carry its execution context for good, its tracing Activity included, and every webhook call would become
        // a child span of that long-finished request (a traceparent header and an Activity per call, measured).
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Stops receiving, then waits (until <paramref name="cancellationToken"/>) for calls in flight to finish and be settled.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);

            // The receive loop has ended, so every slot still taken belongs to a call in flight: taking them all back
            // waits for those calls to be settled. Never released again: this worker is done.
            for (var i = 0; i < _webhook.Concurrency; i++)
            {
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Out of time: unsettled messages keep their leases and are redelivered (after a restart: at once).
        }
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        var consumerId = "webhook-" + _webhook.Id;
        var pause = FirstPause;

        // Set when the subscription went away: it is created again (with this webhook's settings) before opening, from
        // the messages published since it went. Whether only the subscription was deleted or its topic too (then a topic
        // created again holds only newer messages), nothing published meanwhile is skipped.
        StartPosition? recreateAt = null;
        var waitingForTopic = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (recreateAt is { } position)
                {
                    await RecreateSubscriptionAsync(position, stop).ConfigureAwait(false);
                    recreateAt = null;
                }

                await using var consumer = await _engine.OpenConsumerAsync(_webhook.Topic, _webhook.Subscription, consumerId, stop).ConfigureAwait(false);
                pause = FirstPause;
                waitingForTopic = false;
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, consumer.Ended);
                try
                {
                    await ReceiveLoopAsync(consumer, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (ex is not ConsumerEndedException && !stop.IsCancellationRequested && consumer.Ended.IsCancellationRequested)
                {
                    // Ended while waiting for the breaker or a slot: the receive says why.
                    await consumer.ReceiveAsync(1, TimeSpan.Zero, stop).ConfigureAwait(false);
                    throw;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (ConsumerEndedException ex) when (ex.Reason is ConsumerEndReason.SubscriptionDeleted or ConsumerEndReason.TopicDeleted)
            {
                // Deleted under the webhook: wait (it may be the first step of deleting the topic), then carry on.
                Log.SubscriptionGone(_logger, _webhook.Id, _webhook.Subscription, ex.Reason == ConsumerEndReason.TopicDeleted ? "its topic was deleted" : "it was deleted");
                recreateAt ??= StartPosition.AtTime(_time.GetUtcNow());
                pause = FirstPause;
            }
            catch (TopicNotFoundException)
            {
                // The topic is gone: poll for it (at most every MaxTopicPause), never spin.
                if (!waitingForTopic)
                {
                    Log.WaitingForTopic(_logger, _webhook.Id, _webhook.Topic.ToString());
                    waitingForTopic = true;
                }

                recreateAt ??= StartPosition.AtTime(_time.GetUtcNow());
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks, MaxTopicPause.Ticks));
            }
            catch (Exception ex)
            {
                // Doubling up to 30 s: a failing backend should not fill the log with a line a second.
                Log.ReceiveFailed(_logger, _webhook.Id, (long)pause.TotalMilliseconds, ex);
            }

            try
            {
                await Task.Delay(pause, _time, stop).ConfigureAwait(false);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxPause.Ticks));
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    // Creates the subscription when it is still missing (another instance of a fleet may have done it already).
    private async Task RecreateSubscriptionAsync(StartPosition position, CancellationToken cancellationToken)
    {
        if (await _engine.GetSettingsAsync(_webhook.Topic, _webhook.Subscription, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        var settings = WebhookService.SubscriptionSettingsFor(_webhook) with { Position = position };
        await _engine.CreateOrUpdateAsync(_webhook.Topic, _webhook.Subscription, settings, cancellationToken).ConfigureAwait(false);
        Log.SubscriptionRecreated(_logger, _webhook.Id, _webhook.Subscription, position.Time ?? DateTimeOffset.MinValue);
    }

    private async Task ReceiveLoopAsync(ISubscriptionConsumer consumer, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var allowed = await _breaker.AcquireAsync(cancellationToken).ConfigureAwait(false);
            var probe = allowed == 1;
            try
            {
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                if (probe)
                {
                    _breaker.ReturnProbe();
                }

                throw;
            }

            var taken = 1;
            while (taken < allowed && _slots.Wait(0))
            {
                taken++;
            }

            IReadOnlyList<Delivery> deliveries;
            try
            {
                deliveries = await consumer.ReceiveAsync(taken, ReceiveWait, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _slots.Release(taken);
                if (probe)
                {
                    _breaker.ReturnProbe();
                }

                throw;
            }

            if (deliveries.Count < taken)
            {
                _slots.Release(taken - deliveries.Count);
            }

            if (deliveries.Count == 0 && probe)
            {
                _breaker.ReturnProbe();
            }

            foreach (var delivery in deliveries)
            {
                // Not tracked one by one: the call holds its slot until it is settled, and StopAsync waits for the slots.
                _ = CallAsync(consumer, delivery);
            }
        }
    }

    // Never throws: every failure is logged and counted here. Holds one slot from start to end.
    private async Task CallAsync(ISubscriptionConsumer consumer, Delivery delivery)
    {
        try
        {
            // Off the receive loop first: a call that completed without waiting would otherwise run its whole chain
            // inside the loop, holding back the other deliveries of the same receive (leased, not yet sent).
            await Task.Yield();
            while (true)
            {
                await CallOnceAsync(consumer, delivery).ConfigureAwait(false);

                // The slot is still this call's: while calls are allowed and a message is ready, send it from here
                // instead of handing the slot back to the receive loop, a thread hop per message at full speed.
                // Nothing ready: the receive loop waits for the next one.
                if (_stop.IsCancellationRequested || !_breaker.IsClosed)
                {
                    return;
                }

                var next = consumer.TakeReady(1);
                if (next.Count == 0)
                {
                    return;
                }

                delivery = next[0];
            }
        }
        catch (Exception ex)
        {
            // Taking the next message failed (the consumer went away): the receive loop sees it too and starts over.
            Log.TakeFailed(_logger, _webhook.Id, ex);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task CallOnceAsync(ISubscriptionConsumer consumer, Delivery delivery)
    {
        _counters.CallStarted();
        try
        {
            // Not cancelled by a stop: a call in flight finishes (bounded by the webhook's timeout) and is settled,
            // so a graceful shutdown neither re-sends it nor leaves it unacked.
            var result = await _transport.SendAsync(_webhook, delivery, CancellationToken.None).ConfigureAwait(false);
            await SettleAsync(consumer, delivery, result).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The lease stays; the engine redelivers at its ack deadline.
            Log.SettleFailed(_logger, _webhook.Id, delivery.MessageId, ex);
            _counters.Failed(_time.GetUtcNow(), "internal error settling the message: " + ex.GetType().Name);
        }
        finally
        {
            _counters.CallEnded();
        }
    }

    private async Task SettleAsync(ISubscriptionConsumer consumer, Delivery delivery, WebhookCallResult result)
    {
        if (result.Outcome == WebhookCallOutcome.Delivered)
        {
            _breaker.OnSuccess();

            // Applied at once by its lease; the cursor reaches the disk with the next cursor write (within
            // DeliveryOptions.CursorLinger, and at a graceful stop): a crash before it sends the message again, which
            // at-least-once allows. Waiting for that write per message would hold the call's slot on the disk.
            var acked = await consumer.AckAsync([delivery], waitDurable: false).ConfigureAwait(false);
            _counters.Delivered(_time.GetUtcNow(), acked);
            return;
        }

        var now = _time.GetUtcNow();
        if (result.Outcome == WebhookCallOutcome.Reject)
        {
            // The endpoint answered: it is alive, whatever it thinks of this message.
            _breaker.OnSuccess();
            _counters.Failed(now, result.Error);
            await DeadLetterAsync(delivery, $"rejected: {result.Error}").ConfigureAwait(false);
            return;
        }

        if (result.EndpointFailure)
        {
            _breaker.OnFailure();
        }
        else
        {
            _breaker.OnNeutral();
        }

        _counters.Failed(now, result.Error);
        var age = now - delivery.Record.Timestamp;
        if (delivery.DeliveryAttempt >= _webhook.Retry.MaxAttempts)
        {
            await DeadLetterAsync(delivery, $"retries-exhausted: {delivery.DeliveryAttempt} attempts, last: {result.Error}").ConfigureAwait(false);
            return;
        }

        if (age >= _webhook.Retry.MaxAge)
        {
            await DeadLetterAsync(delivery, $"max-age: {(long)age.TotalMilliseconds} ms old after {delivery.DeliveryAttempt} attempts, last: {result.Error}").ConfigureAwait(false);
            return;
        }

        var delay = _webhook.Retry.Backoff(delivery.DeliveryAttempt, Random.Shared.NextDouble());
        if (result.RetryAfter is { } retryAfter && retryAfter > delay)
        {
            delay = retryAfter;
        }

        // The engine's limit for a nack delay.
        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks, TimeSpan.FromDays(1).Ticks));
        await _engine.NackAsync(_webhook.Topic, _webhook.Subscription, [delivery.AckId], delay).ConfigureAwait(false);
        _counters.Retried();
    }

    private async Task DeadLetterAsync(Delivery delivery, string reason)
    {
        await _engine.DeadLetterAsync(_webhook.Topic, _webhook.Subscription, [delivery.AckId], reason).ConfigureAwait(false);
        _counters.DeadLettered();
        Log.DeadLettered(_logger, _webhook.Id, delivery.MessageId, reason);
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.WebhookReceiveFailed, LogLevel.Warning, "Webhook {Id}: receiving failed; retrying in {DelayMs} ms")]
        public static partial void ReceiveFailed(ILogger logger, string id, long delayMs, Exception exception);

        [LoggerMessage(CoreEventIds.WebhookSettleFailed, LogLevel.Error, "Webhook {Id}: settling message {MessageId} failed; it is redelivered at its ack deadline")]
        public static partial void SettleFailed(ILogger logger, string id, string messageId, Exception exception);

        [LoggerMessage(CoreEventIds.WebhookTakeFailed, LogLevel.Warning, "Webhook {Id}: taking the next ready message failed; the receive loop carries on")]
        public static partial void TakeFailed(ILogger logger, string id, Exception exception);

        [LoggerMessage(CoreEventIds.WebhookDeadLettered, LogLevel.Information, "Webhook {Id}: message {MessageId} dead-lettered ({Reason})")]
        public static partial void DeadLettered(ILogger logger, string id, string messageId, string reason);

        [LoggerMessage(CoreEventIds.WebhookSubscriptionGone, LogLevel.Information, "Webhook {Id}: subscription {Subscription} ended because {Why}; waiting for it to come back")]
        public static partial void SubscriptionGone(ILogger logger, string id, string subscription, string why);

        [LoggerMessage(CoreEventIds.WebhookWaitingForTopic, LogLevel.Information, "Webhook {Id}: topic {Topic} does not exist; delivery resumes when it is created again")]
        public static partial void WaitingForTopic(ILogger logger, string id, string topic);

        [LoggerMessage(CoreEventIds.WebhookSubscriptionRecreated, LogLevel.Information, "Webhook {Id}: created subscription {Subscription} again, from the messages published since {Since:O}")]
        public static partial void SubscriptionRecreated(ILogger logger, string id, string subscription, DateTimeOffset since);
    }
}
