namespace Sluice.Core.Webhooks;

/// <summary>A webhook's counters; updated from many calls at once.</summary>
internal sealed class WebhookCounters
{
    private readonly Lock _gate = new();
    private long _delivered;
    private long _failed;
    private long _retried;
    private long _deadLettered;
    private int _inFlight;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private DateTimeOffset? _lastSuccessAt;

    public void CallStarted() => Interlocked.Increment(ref _inFlight);

    public void CallEnded() => Interlocked.Decrement(ref _inFlight);

    public void Delivered(DateTimeOffset now, int count)
    {
        lock (_gate)
        {
            _delivered += count;
            _lastSuccessAt = now;
        }
    }

    public void Failed(DateTimeOffset now, string? error)
    {
        lock (_gate)
        {
            _failed++;
            _lastError = error;
            _lastErrorAt = now;
        }
    }

    public void Retried() => Interlocked.Increment(ref _retried);

    public void DeadLettered() => Interlocked.Increment(ref _deadLettered);

    public WebhookStats Snapshot(string id, bool paused, CircuitBreakerInfo breaker)
    {
        lock (_gate)
        {
            return new WebhookStats(id, paused, _delivered, _failed, Interlocked.Read(ref _retried), Interlocked.Read(ref _deadLettered),
                Volatile.Read(ref _inFlight), breaker, _lastError, _lastErrorAt, _lastSuccessAt);
        }
    }
}
