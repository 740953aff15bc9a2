using Sluice.Core.Subscriptions;

namespace Sluice.Core.Replication;

/// <summary>
/// One source partition inside a <see cref="ReplicatorWorker"/>: records received and waiting for a batch, batches in
/// flight, and the partition's retry state. Guarded by the worker's lock.
/// </summary>
internal sealed class PartitionLane(int partition)
{
    public int Partition { get; } = partition;

    public Queue<Delivery> Pending { get; } = new();

    public long PendingBytes { get; set; }

    /// <summary>When the oldest pending record arrived: with <c>lingerMs</c>, when the next batch is due at the latest.</summary>
    public DateTimeOffset FirstPendingAt { get; set; }

    public int InFlight { get; set; }

    /// <summary>The last write failed and is being retried (cleared by the next success).</summary>
    public bool Retrying { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset? NextAttemptAt { get; set; }

    public void Add(Delivery delivery, long bytes, DateTimeOffset now)
    {
        if (Pending.Count == 0)
        {
            FirstPendingAt = now;
        }

        Pending.Enqueue(delivery);
        PendingBytes += bytes;
    }

    /// <summary>Takes the next batch: at least one record, at most <paramref name="maxRecords"/> and about <paramref name="maxBytes"/>.</summary>
    public List<Delivery> Take(int maxRecords, long maxBytes, Func<Delivery, long> size, DateTimeOffset now)
    {
        var batch = new List<Delivery>(Math.Min(Pending.Count, maxRecords));
        long bytes = 0;
        while (Pending.Count > 0 && batch.Count < maxRecords)
        {
            var next = size(Pending.Peek());
            if (batch.Count > 0 && bytes + next > maxBytes)
            {
                break;
            }

            batch.Add(Pending.Dequeue());
            bytes += next;
        }

        PendingBytes -= bytes;
        FirstPendingAt = now;
        return batch;
    }
}
