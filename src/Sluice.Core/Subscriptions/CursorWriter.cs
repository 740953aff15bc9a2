using Microsoft.Extensions.Logging;
using Sluice.Core.Log;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Group commit of cursor records. Acks mark (subscription, partition) dirty and wait for the next append; one
/// append at a time runs, and everything marked while it runs goes into the following one, so concurrent acks
/// share appends:
/// <code>
/// ack ─┐
/// ack ─┼─► dirty set ─► snapshot (each cursor encoded under its subscription lock) ─► one AppendAsync ─► waiters complete
/// ack ─┘
/// </code>
/// An ack nobody waits on (<see cref="CommitLater"/>) only marks dirty: it is written by the next append, which it starts
/// itself after <see cref="DeliveryOptions.CursorLinger"/> when no waited-on ack starts one sooner.
/// </summary>
internal sealed partial class CursorWriter(IMessageLog log, DeliveryOptions options, ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly Queue<(Subscription Subscription, int Partition)> _order = new();
    private HashSet<(Subscription Subscription, int Partition)> _dirty = [];
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _running;
    private bool _lingering;

    /// <summary>Completes once the current state of these partitions has been appended durably.</summary>
    public Task CommitAsync(Subscription subscription, PartitionSet partitions)
    {
        lock (_gate)
        {
            MarkDirtyLocked(subscription, partitions);
            var task = _next.Task;
            if (!_running)
            {
                _running = true;
                _ = Task.Run(RunAsync);
            }

            return task;
        }
    }

    /// <summary>Marks these partitions dirty; their cursor is written within <see cref="DeliveryOptions.CursorLinger"/>.</summary>
    public void CommitLater(Subscription subscription, PartitionSet partitions)
    {
        lock (_gate)
        {
            MarkDirtyLocked(subscription, partitions);
            if (_running || _lingering)
            {
                return;
            }

            _lingering = true;
        }

        _ = LingerAsync();
    }

    // A partition already waiting keeps its place in the order; its latest state goes out when its turn comes.
    private void MarkDirtyLocked(Subscription subscription, PartitionSet partitions)
    {
        foreach (var p in partitions)
        {
            MarkDirtyLocked(subscription, p);
        }
    }

    private void MarkDirtyLocked(Subscription subscription, int partition)
    {
        if (_dirty.Add((subscription, partition)))
        {
            _order.Enqueue((subscription, partition));
        }
    }

    private async Task LingerAsync()
    {
        await Task.Delay(options.CursorLinger).ConfigureAwait(false);
        lock (_gate)
        {
            _lingering = false;
            if (_running || _order.Count == 0)
            {
                return;
            }

            _running = true;
        }

        await RunAsync().ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        while (true)
        {
            List<(Subscription Subscription, int Partition)> batch;
            TaskCompletionSource? done = null;
            lock (_gate)
            {
                // Beyond the batch size the rest waits for the next append; their waiters wait with them.
                batch = new List<(Subscription, int)>(Math.Min(_order.Count, options.CursorFlushBatchSize));
                while (_order.Count > 0 && batch.Count < options.CursorFlushBatchSize)
                {
                    var item = _order.Dequeue();
                    _dirty.Remove(item);
                    batch.Add(item);
                }

                // Waiters complete when the last batch of a backlog is written; a batch in between completes no one. With
                // nothing dirty at all (this is the only runner, so all that was marked is written) they complete now: they
                // asked for no partition (a subscription of which this instance holds none yet) and wait for nothing.
                if (_order.Count == 0)
                {
                    done = _next;
                    _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                _running = batch.Count > 0;
            }

            if (batch.Count == 0)
            {
                done!.TrySetResult();
                return;
            }

            try
            {
                var records = new List<RecordToAppend>(batch.Count);
                foreach (var (subscription, partition) in batch)
                {
                    if (subscription.TryEncodeCursor(partition, out var key, out var value))
                    {
                        records.Add(new RecordToAppend(key, value));
                    }
                }

                if (records.Count > 0)
                {
                    await log.AppendAsync(StateTopics.Cursors, 0, records).ConfigureAwait(false);
                    DeliveryMetrics.OnCursorAppend();
                }

                done?.TrySetResult();
                foreach (var (subscription, partition) in batch)
                {
                    subscription.PublishCommitted(partition);
                }
            }
            catch (Exception ex)
            {
                // Fail everyone waiting now: some of their records may be in this batch. Conservative, never optimistic.
                Log.CursorWriteFailed(logger, batch.Count, ex);
                if (done is null)
                {
                    lock (_gate)
                    {
                        done = _next;
                        _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                }

                done.TrySetException(ex);

                // Still dirty: written by the next append, which a waited-on ack starts, or else the linger retries it (acks
                // nobody waits on must not stay unwritten until their partition happens to be acked again).
                var retry = false;
                lock (_gate)
                {
                    foreach (var (subscription, partition) in batch)
                    {
                        MarkDirtyLocked(subscription, partition);
                    }

                    _running = false;
                    if (!_lingering)
                    {
                        _lingering = retry = true;
                    }
                }

                if (retry)
                {
                    _ = LingerAsync();
                }

                return;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.CursorWriteFailed, LogLevel.Error, "Writing {Count} cursor records failed; the acks waiting for them fail, and the records are written again later")]
        public static partial void CursorWriteFailed(ILogger logger, int count, Exception exception);
    }
}
