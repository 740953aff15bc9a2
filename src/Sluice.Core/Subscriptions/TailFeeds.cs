using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// One wait for a partition's new records and one read of them, shared by every subscription of the engine whose
/// read-ahead has reached that partition's end. Without it each such subscription waits and reads on its own: a commit
/// to a topic with a thousand subscriptions woke a thousand pumps, each of which read the same records.
/// <code>
/// pump reads to the log's end ──park──► feed (one per topic partition while pumps are parked)
///                                         │ WaitForDataAsync(min position) ─► ReadAsync ─► each parked pump's
///                                         │ subscription takes the read under its lock (Subscription.OfferTail)
///                                         └─ a subscription that cannot take it (no room, a seek, ahead of the read's
///                                            start, ...) gets its pump back, which reads for itself as before
/// </code>
/// A parked pump stays parked while the feed serves it, so in the steady state of a fan-out nothing per subscription
/// runs but the take of the read. Everything unusual (errors of the read, corrupt records, retention, a topic gone) goes
/// back to the pumps: the feed only ever hands over a read that starts at or before where a subscription's read-ahead
/// stands, which is what the pump's own read would have returned.
/// </summary>
internal sealed class TailFeeds(IMessageLog log, DeliveryOptions options)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(TopicName Topic, int Partition), Feed> _feeds = [];

    /// <summary>
    /// Parks the pump of <paramref name="p"/>, which read up to <paramref name="position"/>, the log's end as it saw it.
    /// Completes when the pump should read for itself again; cancelled with <paramref name="cancellationToken"/>.
    /// </summary>
    public Task WaitAsync(Subscription subscription, PartitionState p, int epoch, long position, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        var key = (subscription.Topic, p.Partition);
        var parked = new Parked(this, subscription, p, epoch, position);

        // Registered before the feed can see it, so whoever ends the park (the feed, the token) finds the registration.
        parked.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Parked)state!).Cancel(token), parked);
        Feed? start = null;
        lock (_gate)
        {
            if (parked.Done.Task.IsCompleted)
            {
                return parked.Done.Task;
            }

            if (!_feeds.TryGetValue(key, out var feed))
            {
                feed = new Feed(key.Topic, key.Partition);
                _feeds.Add(key, feed);
                start = feed;
            }
            else if (position < feed.WaitingFrom)
            {
                // The feed read past this position (for the others) and waits for what comes after it: it waits again
                // from here, so that what lies between is read for this pump too.
                WaitAgain(feed);
            }

            parked.Feed = feed;
            feed.Parked.Add(parked);
        }

        if (start is not null)
        {
            _ = Task.Run(() => RunAsync(start));
        }

        return parked.Done.Task;
    }

    private async Task RunAsync(Feed feed)
    {
        var batch = new List<Parked>();
        var dropped = new List<Parked>();
        try
        {
            while (true)
            {
                long from;
                CancellationToken stop;
                lock (_gate)
                {
                    if (feed.Parked.Count == 0)
                    {
                        _feeds.Remove((feed.Topic, feed.Partition));
                        return;
                    }

                    if (feed.Stop.IsCancellationRequested)
                    {
                        // Not disposed: its cancel may still be running (it has no timer or handle to free).
                        feed.Stop = new CancellationTokenSource();
                    }

                    stop = feed.Stop.Token;
                    from = long.MaxValue;
                    foreach (var parked in feed.Parked)
                    {
                        from = Math.Min(from, parked.Position);
                    }

                    feed.WaitingFrom = from;
                }

                ReadResult read;
                try
                {
                    await log.WaitForDataAsync(feed.Topic, feed.Partition, from, stop).ConfigureAwait(false);
                    lock (_gate)
                    {
                        feed.WaitingFrom = long.MinValue;
                        batch.AddRange(feed.Parked);
                    }

                    read = await log.ReadAsync(feed.Topic, feed.Partition, from, options.ReadAheadMessages, options.ReadAheadBytes, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    // The last pump left, or one came that needs an earlier start: look again.
                    lock (_gate)
                    {
                        feed.WaitingFrom = long.MinValue;
                    }

                    batch.Clear();
                    continue;
                }

                if (read.NextOffset <= from)
                {
                    // Data was signalled and none came back: not a case to settle here; the pumps read for themselves.
                    throw new InvalidOperationException("an empty read after new data was signalled");
                }

                foreach (var parked in batch)
                {
                    if (parked.Position >= read.NextOffset)
                    {
                        // Already past this read (it parked after reading further on its own).
                        continue;
                    }

                    if (parked.Subscription.OfferTail(parked.Partition, parked.Epoch, from, read, out var next))
                    {
                        parked.Position = next;
                    }
                    else
                    {
                        dropped.Add(parked);
                    }
                }

                batch.Clear();
                foreach (var parked in dropped)
                {
                    parked.Release();
                }

                dropped.Clear();
            }
        }
        catch (Exception)
        {
            // The read failed (the topic is gone, the log is closing, corrupt records, retention, a backend hiccup), or
            // its cancellation came with the last pump's: each pump reads for itself and meets what it meets as before.
            List<Parked> all;
            lock (_gate)
            {
                all = [.. feed.Parked];
                feed.Parked.Clear();
                _feeds.Remove((feed.Topic, feed.Partition));
            }

            foreach (var parked in all)
            {
                parked.Release();
            }
        }
    }

    // Under _gate.
    private static void Remove(Parked parked)
    {
        if (parked.Feed is { } feed && feed.Parked.Remove(parked) && feed.Parked.Count == 0)
        {
            // Nobody left to wait for: the loop ends (or, if a pump came meanwhile, waits again).
            WaitAgain(feed);
        }
    }

    // Under _gate. Ends the feed's current wait, so its loop looks at its parked pumps again. Off this thread: a pump's
    // token may be cancelled under its subscription's lock, and the feed's wait may continue where it is cancelled.
    private static void WaitAgain(Feed feed)
        => ThreadPool.UnsafeQueueUserWorkItem(static stop => stop.Cancel(), feed.Stop, preferLocal: false);

    private sealed class Feed(TopicName topic, int partition)
    {
        public TopicName Topic { get; } = topic;

        public int Partition { get; } = partition;

        public List<Parked> Parked { get; } = [];

        public CancellationTokenSource Stop { get; set; } = new();

        /// <summary>The offset the feed waits for data beyond, while it waits; otherwise <see cref="long.MinValue"/>.</summary>
        public long WaitingFrom { get; set; } = long.MinValue;
    }

    private sealed class Parked(TailFeeds feeds, Subscription subscription, PartitionState partition, int epoch, long position)
    {
        public Subscription Subscription { get; } = subscription;

        public PartitionState Partition { get; } = partition;

        public int Epoch { get; } = epoch;

        /// <summary>Where its read-ahead stands; read and written by the feed's loop only (after the park).</summary>
        public long Position { get; set; } = position;

        public Feed? Feed { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Gives the pump back: it reads for itself.</summary>
        public void Release()
        {
            lock (feeds._gate)
            {
                Remove(this);
            }

            Registration.Dispose();
            Done.TrySetResult();
        }

        public void Cancel(CancellationToken token)
        {
            lock (feeds._gate)
            {
                Remove(this);
            }

            Done.TrySetCanceled(token);
        }
    }
}
