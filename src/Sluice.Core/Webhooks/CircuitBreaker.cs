namespace Sluice.Core.Webhooks;

/// <summary>
/// One endpoint's (URL authority's) circuit breaker, shared by every webhook calling it:
/// <code>
///   closed ──(N consecutive endpoint failures)──► open ──(cool-down)──► half_open: one probe call
///     ▲                                            ▲                         │
///     └──────────────── probe succeeds ────────────┼─────────────────────────┤
///                                                  └── probe fails (cool-down doubles, capped)
/// </code>
/// While open, dispatchers stop receiving: messages stay in the log, none is nacked into a loop, so none is lost
/// and per-key order holds.
/// </summary>
internal sealed class CircuitBreaker(WebhookOptions options, TimeProvider time)
{
    private readonly Lock _gate = new();
    // Written under the gate; volatile so IsClosed, asked once per delivered message, reads it without the lock.
    private volatile BreakerState _state;
    private int _consecutiveFailures;
    private int _reopenings;
    private bool _probeOut;
    private DateTimeOffset? _openedAt;
    private DateTimeOffset _nextProbeAt;
    private TaskCompletionSource _changed = NewSignal();

    private enum BreakerState
    {
        Closed,
        Open,
        HalfOpen,
    }

    public CircuitBreakerInfo Info()
    {
        lock (_gate)
        {
            var state = _state switch
            {
                BreakerState.Open => "open",
                BreakerState.HalfOpen => "half_open",
                _ => "closed",
            };
            return new CircuitBreakerInfo(state, _consecutiveFailures, _openedAt, _state == BreakerState.Open ? _nextProbeAt : null);
        }
    }

    /// <summary>Calls may go out without asking (<see cref="AcquireAsync"/> would answer unlimited at once).</summary>
    public bool IsClosed => _state == BreakerState.Closed;

    /// <summary>
    /// Waits until calls are allowed; returns how many messages the caller may take now: unlimited when closed,
    /// 1 for the probe of a half-open breaker (the caller then reports its outcome, or <see cref="ReturnProbe"/> when it
    /// took nothing).
    /// </summary>
    public async ValueTask<int> AcquireAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            DateTimeOffset until;
            lock (_gate)
            {
                switch (_state)
                {
                    case BreakerState.Closed:
                        return int.MaxValue;
                    case BreakerState.Open when time.GetUtcNow() >= _nextProbeAt:
                        _state = BreakerState.HalfOpen;
                        _probeOut = true;
                        return 1;
                    case BreakerState.HalfOpen when !_probeOut:
                        _probeOut = true;
                        return 1;
                }

                changed = _changed.Task;
                until = _state == BreakerState.Open ? _nextProbeAt : time.GetUtcNow() + TimeSpan.FromSeconds(1);
            }

            var wait = until - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var delay = Task.Delay(wait, time, cts.Token);

                // The clock may pass the deadline between reading it and starting the timer, which is then due that much
                // late (a jump of the clock, as a test's clock makes, could leave it due never): look once more.
                if (time.GetUtcNow() < until)
                {
                    await Task.WhenAny(changed, delay).ConfigureAwait(false);
                }

                await cts.CancelAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>The probe slot was taken but no message came: let the next caller probe.</summary>
    public void ReturnProbe()
    {
        lock (_gate)
        {
            _probeOut = false;
            Signal();
        }
    }

    /// <summary>The endpoint answered (2xx, or a 4xx that says it is alive).</summary>
    public void OnSuccess()
    {
        lock (_gate)
        {
            if (_state == BreakerState.Closed && _consecutiveFailures == 0)
            {
                // Nothing changes (the usual case, once per delivered message): no new signal, nobody waits while closed.
                return;
            }

            _consecutiveFailures = 0;
            _reopenings = 0;
            _probeOut = false;
            _openedAt = null;
            _state = BreakerState.Closed;
            Signal();
        }
    }

    /// <summary>A call failed in a way that does not judge the endpoint (429): frees a probe slot, changes nothing else.</summary>
    public void OnNeutral() => ReturnProbe();

    /// <summary>A 5xx, timeout or connection error.</summary>
    public void OnFailure()
    {
        lock (_gate)
        {
            _consecutiveFailures++;
            _probeOut = false;
            var now = time.GetUtcNow();
            if (_state == BreakerState.HalfOpen)
            {
                _reopenings++;
                Open(now);
            }
            else if (_state == BreakerState.Closed && _consecutiveFailures >= options.BreakerFailureThreshold)
            {
                _reopenings = 0;
                Open(now);
            }

            Signal();
        }
    }

    private void Open(DateTimeOffset now)
    {
        _state = BreakerState.Open;
        _openedAt ??= now;
        var ms = Math.Min(options.BreakerCooldown.TotalMilliseconds * Math.Pow(2, Math.Min(_reopenings, 20)), options.BreakerMaxCooldown.TotalMilliseconds);
        _nextProbeAt = now + TimeSpan.FromMilliseconds(ms);
    }

    private void Signal()
    {
        var old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
