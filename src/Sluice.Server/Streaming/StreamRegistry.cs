using Microsoft.Extensions.Options;
using Sluice.Core;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Streaming;

/// <summary>
/// Every open stream (SSE, WebSocket consume and produce, replay): enforces <c>streaming:maxStreams</c> and
/// <c>streaming:maxStreamsPerSubscription</c>, lets a reconnecting SSE client take over its own consumer from a
/// connection the server has not yet noticed is dead, and keeps, for a while after an SSE stream ends, the ack ids it
/// wrote but were not acked (its resume record) so a reconnect with <c>Last-Event-ID</c> can release what the client
/// never saw.
/// </summary>
internal sealed partial class StreamRegistry(IOptions<ServerOptions> options, TimeProvider time, StreamingMetrics metrics, ILogger<StreamRegistry> logger) : IDisposable
{
    /// <summary>How long a stream taken over gets to end before the new one goes ahead anyway.</summary>
    private static readonly TimeSpan TakeoverWait = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private readonly ServerOptions _options = options.Value;
    private readonly Dictionary<(TopicName Topic, string Subscription), int> _perSubscription = [];
    private readonly Dictionary<(TopicName Topic, string Subscription, string Consumer), StreamLease> _byConsumer = [];
    private readonly Dictionary<(TopicName Topic, string Subscription, string Consumer), ResumeRecord> _resume = [];
    private readonly HashSet<StreamLease> _endOnStop = [];
    private readonly HashSet<StreamLease> _keptAlive = [];
    private ITimer? _keepAliveClock;
    private bool _stoppingRegistered;
    private int _total;

    public int Total
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>
    /// Counts a new stream, or throws a 429 / 503 problem. With a <paramref name="consumer"/> (SSE and WebSocket consume),
    /// a stream already open for that same consumer is ended first.
    /// </summary>
    public async ValueTask<StreamLease> EnterAsync(TopicName topic, string? subscription, string? consumer, CancellationToken cancellationToken)
    {
        if (subscription is not null && consumer is not null)
        {
            StreamLease? previous;
            lock (_gate)
            {
                _byConsumer.TryGetValue((topic, subscription, consumer), out previous);
            }

            if (previous is not null)
            {
                Log.StreamTakenOver(logger, topic.ToString(), subscription, consumer);
                previous.TakeOver();
                try
                {
                    await previous.Completion.WaitAsync(TakeoverWait, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // It is stuck in a write that the slow-consumer timeout will end; go ahead, the engine joins the two.
                }
            }
        }

        lock (_gate)
        {
            if (_total >= _options.MaxStreams)
            {
                Refuse(ProblemKind.ServerStreamLimit, $"the server has {_total} open streams, its limit (streaming:maxStreams = {_options.MaxStreams}); retry later or on another instance");
            }

            var count = 0;
            if (subscription is not null)
            {
                _perSubscription.TryGetValue((topic, subscription), out count);
                if (count >= _options.MaxStreamsPerSubscription)
                {
                    Refuse(ProblemKind.SubscriptionStreamLimit, $"subscription '{subscription}' on topic '{topic}' has {count} open streams, its limit (streaming:maxStreamsPerSubscription = {_options.MaxStreamsPerSubscription}); close one or retry later");
                }

                _perSubscription[(topic, subscription)] = count + 1;
            }

            _total++;
            var lease = new StreamLease(this, topic, subscription, consumer);
            if (subscription is not null && consumer is not null)
            {
                _byConsumer[(topic, subscription, consumer)] = lease;
            }

            metrics.Open.Add(1);
            return lease;
        }
    }

    /// <summary>Keeps the ack ids an SSE stream wrote and may still be leased, until they would have expired anyway.</summary>
    public void SaveResume(TopicName topic, string subscription, string consumer, IReadOnlyList<string> written, TimeSpan ackDeadline)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            Sweep(now);
            if (written.Count > 0)
            {
                _resume[(topic, subscription, consumer)] = new ResumeRecord(written, now + ackDeadline);
            }
        }
    }

    /// <summary>The resume record of the consumer's last SSE stream (removed), or null.</summary>
    public IReadOnlyList<string>? TakeResume(TopicName topic, string subscription, string consumer)
    {
        lock (_gate)
        {
            Sweep(time.GetUtcNow());
            return _resume.Remove((topic, subscription, consumer), out var record) ? record.Written : null;
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        if (_resume.Count == 0)
        {
            return;
        }

        List<(TopicName, string, string)>? expired = null;
        foreach (var (key, record) in _resume)
        {
            if (record.Expires <= now)
            {
                (expired ??= []).Add(key);
            }
        }

        foreach (var key in expired ?? [])
        {
            _resume.Remove(key);
        }
    }

    /// <summary>
    /// One registration on the server's stopping token for every stream that asked to end with it
    /// (<see cref="StreamLease.EndAlsoOn"/>), rather than one per stream, which an idle stream would hold for hours.
    /// </summary>
    private void EndOnStop(StreamLease lease, CancellationToken stopping)
    {
        lock (_gate)
        {
            // Under the lock that EndAll reads the set under: a stop either sees this lease or is seen by its caller.
            // A set of its own, not the by-consumer index: two streams of one consumer opened at once both end.
            _endOnStop.Add(lease);
            if (_stoppingRegistered)
            {
                return;
            }

            _stoppingRegistered = true;
        }

        // Outside the lock: a token already cancelled runs the callback here, and it takes the lock. Never unregistered:
        // the registry lives as long as the server.
        _ = stopping.UnsafeRegister(static s => ((StreamRegistry)s!).EndAll(), this);
    }

    /// <summary>
    /// One clock for every stream's keep-alive (<see cref="StreamLease.KeepAlive"/>: a consumer's receive or a
    /// reader's <see cref="TailWait"/>), rather than a timer per stream that each of its waits
    /// sets and stops: it ticks four times per interval and interrupts the wait of every stream
    /// that has written nothing for an interval, so an idle stream gets its keep-alive one to one and a quarter
    /// intervals after its last write.
    /// </summary>
    private void KeepAlive(StreamLease lease)
    {
        lock (_gate)
        {
            _keptAlive.Add(lease);
            if (_keepAliveClock is null)
            {
                var tick = TimeSpan.FromMilliseconds(Math.Max(1, _options.SseKeepAliveMs / 4));
                _keepAliveClock = time.CreateContextFreeTimer(static s => ((StreamRegistry)s!).TickKeepAlive(), this, tick, tick);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _keepAliveClock?.Dispose();
        }
    }

    private long Timestamp() => time.GetTimestamp();

    private void TickKeepAlive()
    {
        var now = time.GetTimestamp();
        var interval = (long)(_options.SseKeepAliveMs * time.TimestampFrequency / 1000.0);
        lock (_gate)
        {
            foreach (var lease in _keptAlive)
            {
                lease.InterruptIfIdle(now, interval);
            }
        }
    }

    private void EndAll()
    {
        List<StreamLease> ending;
        lock (_gate)
        {
            ending = [.. _endOnStop];
        }

        foreach (var lease in ending)
        {
            lease.TakeOver();
        }
    }

    private void Refuse(ProblemKind kind, string detail)
    {
        metrics.Refused.Add(1);
        Log.StreamRefused(logger, detail);
        ProblemException.Throw(kind, detail);
    }

    private void Exit(StreamLease lease)
    {
        lock (_gate)
        {
            _total--;
            _endOnStop.Remove(lease);
            _keptAlive.Remove(lease);
            if (lease.Subscription is { } subscription)
            {
                var key = (lease.Topic, subscription);
                if (_perSubscription.TryGetValue(key, out var count) && count > 1)
                {
                    _perSubscription[key] = count - 1;
                }
                else
                {
                    _perSubscription.Remove(key);
                }

                if (lease.Consumer is { } consumer && _byConsumer.TryGetValue((lease.Topic, subscription, consumer), out var current) && current == lease)
                {
                    _byConsumer.Remove((lease.Topic, subscription, consumer));
                }
            }
        }

        metrics.Open.Add(-1);
    }

    private sealed record ResumeRecord(IReadOnlyList<string> Written, DateTimeOffset Expires);

    /// <summary>One counted stream; disposing it frees its place.</summary>
    internal sealed class StreamLease : IDisposable
    {
        // Made when a stream asks for Ending (WebSocket, Beam, a reader's reads), not for one only interrupted (SSE).
        // Never disposed: it has no timer, and a takeover may race the end of the stream it cancels.
        private CancellationTokenSource? _ending;
        private int _endingNow;
        private readonly StreamRegistry _registry;

        // Made when a takeover waits for this stream's end (rare), not for every stream.
        private TaskCompletionSource? _completion;
        private CancellationTokenRegistration _aborted;
        private int _disposed;

        // Set once Exit has run (after _disposed): a takeover waiting on Completion must find the old stream uncounted.
        private int _exited;

        // KeepAlive: what the registry's clock interrupts (a consumer's wait or a reader's TailWait), and when the stream
        // last wrote.
        private IInterruptible? _keepAlive;
        private long _lastActive;

        public StreamLease(StreamRegistry registry, TopicName topic, string? subscription, string? consumer)
        {
            _registry = registry;
            Topic = topic;
            Subscription = subscription;
            Consumer = consumer;
        }

        public TopicName Topic { get; }

        public string? Subscription { get; }

        public string? Consumer { get; }

        /// <summary>
        /// Cancelled when a newer stream of the same consumer takes over, and after <see cref="EndAlsoOn"/> when the
        /// request is aborted or the server stops.
        /// </summary>
        public CancellationToken Ending
        {
            get
            {
                var ending = Volatile.Read(ref _ending);
                if (ending is null)
                {
                    var made = new CancellationTokenSource();
                    ending = Interlocked.CompareExchange(ref _ending, made, null) ?? made;
                }

                // Ended before the source existed: TakeOver may have looked for it before it was made.
                if (IsEnding)
                {
                    ending.Cancel();
                }

                return ending.Token;
            }
        }

        /// <summary>What <see cref="Ending"/> tells, without making its source: the stream should end.</summary>
        public bool IsEnding => Volatile.Read(ref _endingNow) != 0;

        /// <summary>Completes when the stream has ended and no longer counts against the limits.</summary>
        public Task Completion
        {
            get
            {
                var completion = Volatile.Read(ref _completion);
                if (completion is null)
                {
                    var made = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    completion = Interlocked.CompareExchange(ref _completion, made, null) ?? made;
                }

                // Gone before or while it was made: Dispose may have looked before it existed.
                if (Volatile.Read(ref _exited) != 0)
                {
                    completion.TrySetResult();
                }

                return completion.Task;
            }
        }

        /// <summary>Ends the stream: <see cref="IsEnding"/>, <see cref="Ending"/> cancelled, a kept-alive receive interrupted.</summary>
        public void TakeOver()
        {
            // Set before either is read, and each of them is published before it reads this: one side sees the other.
            Interlocked.Exchange(ref _endingNow, 1);
            Volatile.Read(ref _ending)?.Cancel();
            Volatile.Read(ref _keepAlive)?.Interrupt();
        }

        /// <summary>
        /// Ends the stream (<see cref="TakeOver"/>) also when <paramref name="aborted"/> or <paramref name="stopping"/> is
        /// cancelled. One registration on the request's token instead of a linked source over all of them, which a
        /// stream that idles for hours holds all that time (SSE: design notes 0024, 0034, 0035); the registry holds the
        /// one registration on <paramref name="stopping"/> for all its streams.
        /// </summary>
        public void EndAlsoOn(CancellationToken aborted, CancellationToken stopping)
        {
            _aborted = aborted.UnsafeRegister(static s => ((StreamLease)s!).TakeOver(), this);
            _registry.EndOnStop(this, stopping);
            if (stopping.IsCancellationRequested)
            {
                // Stopped before the registry saw this stream: it ends now.
                TakeOver();
            }
        }

        /// <summary>
        /// The registry's keep-alive clock interrupts <paramref name="waiter"/>'s wait (a consumer's receive, which then
        /// returns nothing; a reader's <see cref="TailWait"/>) once the stream has been idle for
        /// <c>streaming:sseKeepAliveMs</c>, and the stream's end interrupts it too; the stream then writes its keep-alive
        /// and says so with <see cref="Active"/>. Its waits have no timeout of their own.
        /// </summary>
        public void KeepAlive(IInterruptible waiter)
        {
            Active();
            Interlocked.Exchange(ref _keepAlive, waiter);
            if (IsEnding)
            {
                // Ended before TakeOver could see the waiter: its next wait must not wait.
                waiter.Interrupt();
            }

            _registry.KeepAlive(this);
        }

        /// <summary>The stream wrote to its client: its keep-alive interval starts again.</summary>
        public void Active() => Volatile.Write(ref _lastActive, _registry.Timestamp());

        // Under the registry's lock, from its clock.
        internal void InterruptIfIdle(long now, long interval)
        {
            if (now - Volatile.Read(ref _lastActive) >= interval && _keepAlive is { } waiter)
            {
                // Counted as active from now: a stream slow to write its keep-alive is not interrupted at every tick.
                Volatile.Write(ref _lastActive, now);
                waiter.Interrupt();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                // Unregistered without waiting: a callback running now only cancels a source nobody waits on any more.
                _aborted.Unregister();
                _registry.Exit(this);
                Interlocked.Exchange(ref _exited, 1);
                Volatile.Read(ref _completion)?.TrySetResult();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.StreamRefused, Level = LogLevel.Warning, Message = "Stream refused: {Detail}")]
        public static partial void StreamRefused(ILogger logger, string detail);

        [LoggerMessage(EventId = LogEvents.StreamTakenOver, Level = LogLevel.Information, Message = "A new stream of consumer {Consumer} on {Topic} subscription {Subscription} ends its previous one")]
        public static partial void StreamTakenOver(ILogger logger, string topic, string subscription, string consumer);
    }
}
