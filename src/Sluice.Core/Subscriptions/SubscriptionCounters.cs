namespace Sluice.Core.Subscriptions;

/// <summary>
/// What one subscription did since this engine loaded it: plain counters bumped where the engine already holds the
/// numbers (one interlocked add per batch, no tags, no allocation), read by whoever exports metrics
/// (<see cref="ISubscriptionService.CollectCounts"/>). A deleted and recreated subscription starts again at zero, which
/// Prometheus and OpenTelemetry treat as a counter reset.
/// </summary>
internal sealed class SubscriptionCounters
{
    private long _delivered;
    private long _redelivered;
    private long _acked;
    private long _nacked;
    private long _leasesExpired;
    private long _deadLettered;
    private long _filteredOut;
    private long _wakeups;
    private long _waiting;

    public void Delivered(int count, int redelivered)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _delivered, count);
        }

        if (redelivered > 0)
        {
            Interlocked.Add(ref _redelivered, redelivered);
        }
    }

    public void Acked(int count) => Add(ref _acked, count);

    public void Nacked(int count) => Add(ref _nacked, count);

    public void LeasesExpired(int count) => Add(ref _leasesExpired, count);

    public void DeadLettered(int count) => Add(ref _deadLettered, count);

    public void FilteredOut(int count) => Add(ref _filteredOut, count);

    public void Woken() => Interlocked.Increment(ref _wakeups);

    public void Waiting(int delta) => Interlocked.Add(ref _waiting, delta);

    public SubscriptionCounts Read(Sluice.Core.Topics.TopicName topic, string name) => new(
        topic,
        name,
        Interlocked.Read(ref _delivered),
        Interlocked.Read(ref _redelivered),
        Interlocked.Read(ref _acked),
        Interlocked.Read(ref _nacked),
        Interlocked.Read(ref _leasesExpired),
        Interlocked.Read(ref _deadLettered),
        Interlocked.Read(ref _filteredOut),
        Interlocked.Read(ref _wakeups),
        Interlocked.Read(ref _waiting));

    private static void Add(ref long field, int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref field, count);
        }
    }
}
