using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Keeps a pull client's consumer attached between its requests, so it keeps one identity (and an exclusive
/// subscription stays its own) until it has not pulled for <c>subscriptions:consumerSessionTimeoutMs</c>.
/// Detaching does not return its unacked messages: they keep their ack deadlines, and the client may still ack.
/// </summary>
internal sealed partial class PullConsumers : IAsyncDisposable
{
    private readonly ConcurrentDictionary<ConsumerKey, Entry> _entries = new();
    private readonly ConcurrentDictionary<(TopicName Topic, string Name), byte> _knownSubscriptions = new();
    private readonly ISubscriptionService _service;
    private readonly ServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PullConsumers> _logger;
    private readonly ITimer _sweeper;

    public PullConsumers(ISubscriptionService service, IOptions<ServerOptions> options, TimeProvider time, ILogger<PullConsumers> logger)
    {
        _service = service;
        _options = options.Value;
        _time = time;
        _logger = logger;
        var period = TimeSpan.FromMilliseconds(Math.Max(250, _options.ConsumerSessionTimeoutMs / 4));
        _sweeper = time.CreateTimer(_ => _ = SweepAsync(), null, period, period);
    }

    /// <summary>The settings a subscription gets when a pull or a PUT without a body creates it.</summary>
    public SubscriptionSettings DefaultSettings => new() { AckDeadline = TimeSpan.FromMilliseconds(_options.AckDeadlineMs) };

    /// <summary>Creates the subscription with the configured defaults when it does not exist yet.</summary>
    public async ValueTask EnsureSubscriptionAsync(TopicName topic, string name, CancellationToken cancellationToken)
    {
        if (_knownSubscriptions.ContainsKey((topic, name)))
        {
            return;
        }

        if (await _service.GetAsync(topic, name, cancellationToken) is null)
        {
            await _service.CreateOrUpdateAsync(topic, name, DefaultSettings, cancellationToken);
        }

        _knownSubscriptions.TryAdd((topic, name), 0);
    }

    public void Remember(TopicName topic, string name) => _knownSubscriptions.TryAdd((topic, name), 0);

    /// <summary>Attaches (or re-joins) the consumer; dispose the lease when the request ends.</summary>
    public async ValueTask<Lease> AcquireAsync(TopicName topic, string name, string consumerId, CancellationToken cancellationToken)
    {
        var key = new ConsumerKey(topic, name, consumerId);
        while (true)
        {
            var entry = _entries.GetOrAdd(key, static (k, self) => new Entry(self.OpenAsync(k)), this);
            ISubscriptionConsumer consumer;
            try
            {
                consumer = await entry.Consumer.WaitAsync(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // Opening failed (a busy exclusive subscription, say): the next request tries again.
                _entries.TryRemove(new KeyValuePair<ConsumerKey, Entry>(key, entry));
                throw;
            }

            if (consumer.Ended.IsCancellationRequested)
            {
                // Ended by the server (subscription deleted or sought): open afresh.
                if (_entries.TryRemove(new KeyValuePair<ConsumerKey, Entry>(key, entry)))
                {
                    await CloseAsync(consumer);
                }

                continue;
            }

            Interlocked.Increment(ref entry.Users);
            entry.LastUsed = _time.GetTimestamp();
            return new Lease(consumer, entry, _time);
        }
    }

    public void ForgetSubscription(TopicName topic, string name)
    {
        _knownSubscriptions.TryRemove((topic, name), out _);
        foreach (var (key, entry) in _entries)
        {
            if (key.Topic == topic && key.Subscription == name && _entries.TryRemove(new KeyValuePair<ConsumerKey, Entry>(key, entry)))
            {
                _ = CloseWhenOpenedAsync(entry);
            }
        }
    }

    public void ForgetTopic(TopicName topic)
    {
        foreach (var (t, name) in _knownSubscriptions.Keys)
        {
            if (t == topic)
            {
                ForgetSubscription(t, name);
            }
        }

        foreach (var (key, entry) in _entries)
        {
            if (key.Topic == topic && _entries.TryRemove(new KeyValuePair<ConsumerKey, Entry>(key, entry)))
            {
                _ = CloseWhenOpenedAsync(entry);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sweeper.DisposeAsync();
        foreach (var (key, entry) in _entries)
        {
            if (_entries.TryRemove(new KeyValuePair<ConsumerKey, Entry>(key, entry)))
            {
                await CloseWhenOpenedAsync(entry);
            }
        }
    }

    private async Task<ISubscriptionConsumer> OpenAsync(ConsumerKey key)
    {
        // Not the request's token: the consumer outlives the request that opened it.
        return await _service.OpenConsumerAsync(key.Topic, key.Subscription, key.ConsumerId, CancellationToken.None);
    }

    private async Task SweepAsync()
    {
        var timeout = TimeSpan.FromMilliseconds(_options.ConsumerSessionTimeoutMs);
        foreach (var (key, entry) in _entries)
        {
            if (Volatile.Read(ref entry.Users) == 0
                && _time.GetElapsedTime(entry.LastUsed) > timeout
                && _entries.TryRemove(new KeyValuePair<ConsumerKey, Entry>(key, entry)))
            {
                Log.PullConsumerExpired(_logger, key.ConsumerId, key.Subscription, key.Topic.ToString());
                await CloseWhenOpenedAsync(entry);
            }
        }
    }

    private async Task CloseWhenOpenedAsync(Entry entry)
    {
        try
        {
            await CloseAsync(await entry.Consumer);
        }
        catch (Exception)
        {
            // It never opened: nothing to close.
        }
    }

    private async Task CloseAsync(ISubscriptionConsumer consumer)
    {
        try
        {
            await consumer.DisposeAsync();
        }
        catch (Exception ex)
        {
            Log.PullConsumerCloseFailed(_logger, consumer.ConsumerId, ex);
        }
    }

    private readonly record struct ConsumerKey(TopicName Topic, string Subscription, string ConsumerId);

    internal sealed class Entry(Task<ISubscriptionConsumer> consumer)
    {
        public int Users;
        public long LastUsed;

        public Task<ISubscriptionConsumer> Consumer { get; } = consumer;
    }

    /// <summary>One request's use of a pull consumer.</summary>
    internal readonly struct Lease(ISubscriptionConsumer consumer, Entry entry, TimeProvider time) : IDisposable
    {
        public ISubscriptionConsumer Consumer { get; } = consumer;

        public void Dispose()
        {
            entry.LastUsed = time.GetTimestamp();
            Interlocked.Decrement(ref entry.Users);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.PullConsumerExpired, Level = LogLevel.Debug, Message = "Detached pull consumer {ConsumerId} of {Subscription} on {Topic}: no pull within the session timeout")]
        public static partial void PullConsumerExpired(ILogger logger, string consumerId, string subscription, string topic);

        [LoggerMessage(EventId = LogEvents.PullConsumerCloseFailed, Level = LogLevel.Warning, Message = "Detaching pull consumer {ConsumerId} failed")]
        public static partial void PullConsumerCloseFailed(ILogger logger, string consumerId, Exception exception);
    }
}
