namespace Sluice.Core.Replication;

/// <summary>A replicator's counters on this gateway (written by its workers, read by status).</summary>
internal sealed class ReplicatorCounters
{
    private readonly Lock _gate = new();
    private long _records;
    private long _bytes;
    private long _batches;
    private long _deadLettered;
    private long _retries;
    private int _restarts;
    private DateTimeOffset? _lastWriteAt;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;

    public long Records => Interlocked.Read(ref _records);

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Batches => Interlocked.Read(ref _batches);

    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    public long Retries => Interlocked.Read(ref _retries);

    public int Restarts => Volatile.Read(ref _restarts);

    public void Written(int records, long bytes, DateTimeOffset at)
    {
        Interlocked.Add(ref _records, records);
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Increment(ref _batches);
        lock (_gate)
        {
            _lastWriteAt = at;
        }
    }

    public void Retried() => Interlocked.Increment(ref _retries);

    public void AddDeadLettered(int count) => Interlocked.Add(ref _deadLettered, count);

    public void Restarted() => Interlocked.Increment(ref _restarts);

    /// <summary>Records an error (already free of secrets).</summary>
    public void Error(string error, DateTimeOffset at)
    {
        lock (_gate)
        {
            _lastError = error;
            _lastErrorAt = at;
        }
    }

    public (DateTimeOffset? LastWriteAt, string? LastError, DateTimeOffset? LastErrorAt) Times()
    {
        lock (_gate)
        {
            return (_lastWriteAt, _lastError, _lastErrorAt);
        }
    }
}
