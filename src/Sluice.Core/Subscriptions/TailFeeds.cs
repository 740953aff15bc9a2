using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// One wait for a partition's new records and one read of them, shared by every subscription of the engine whose
/// read-ahead has reached that partition's end. Without it each such subscription waits and reads on its own: a commit
/// to a topic with a thousand subscriptions woke a thousand pumps, each of which read the same records.
/// <code>
/// pump reads to the log's end ──park──► feed (one per topic partition while pumps are parked)
///                                         │ WaitForDataAsync(front) ─► ReadAsync(front) ─► each parked pump's
///                                         │ subscription takes the read under its lock (Subscription.OfferTail)
///                                         └─ a subscription that cannot take it (no room, a seek since, a read that
///                                            starts past its position) gets its pump back, which reads for itself
/// </code>
/// A parked pump stays parked while the feed serves it, so in the steady state of a fan-out nothing per subscription
/// runs but the take of the read. The feed reads on from its front (where its last read ended); a pump that reached
/// the end behind the front (it read while the feed was ahead) waits on the log by itself, reads what it is missing and
/// parks again, so a lagging subscription never moves the read back for the others. Everything unusual (errors of the
/// read, corrupt records, retention, a topic gone) goes back to the pumps: the feed only ever hands over a read that
/// starts at or before where a subscription's read-ahead stands, which is what the pump's own read would have returned.
/// </summary>
internal sealed class TailFeeds(IMessageLog log, DeliveryOptions options)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(TopicName Topic, int Partition), Feed> _feeds = [];

    // At most half the read-ahead per read: a subscription whose read-ahead may read (at most half full) has room for it.
    private int ReadCount => Math.Max(1, options.ReadAheadMessages / 2);

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
                feed = new Feed(key.Topic, key.Partition) { Front = position };
                _feeds.Add(key, feed);
                start = feed;
            }

            if (position >= feed.Front)
            {
                parked.Feed = feed;
                feed.Parked.Add(parked);
            }
        }

        if (parked.Feed is null)
        {
            // Behind the front: what lies between is this pump's to read, on its own, as before the feed.
            parked.Registration.Dispose();
            return log.WaitForDataAsync(key.Topic, key.Partition, position, cancellationToken).AsTask();
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
                    from = feed.Front;
                }

                ReadResult read;
                try
                {
                    await log.WaitForDataAsync(feed.Topic, feed.Partition, from, stop).ConfigureAwait(false);
                    read = await log.ReadAsync(feed.Topic, feed.Partition, from, ReadCount, options.ReadAheadBytes, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    // The last pump left: look again (another may have come meanwhile).
                    continue;
                }

                if (read.NextOffset <= from)
                {
                    // Data was signalled and none came back: not a case to settle here; the pumps read for themselves.
                    throw new InvalidOperationException("an empty read after new data was signalled");
                }

                lock (_gate)
                {
                    // Pumps parking from here on at a position below the read's end read what they miss themselves.
                    feed.Front = read.NextOffset;
                    batch.AddRange(feed.Parked);
                }

                if (batch.Count <= ChunkSize)
                {
                    Offer(batch, 0, batch.Count, from, read, dropped);
                }
                else
                {
                    // In pieces on the thread pool, each followed there by the streams it woke (a thread runs what it
                    // queued itself first): streams are served in the order they were offered, as when each pump woke on
                    // its own, rather than all after one long pass.
                    var round = new OfferRound(batch, from, read, (batch.Count + ChunkSize - 1) / ChunkSize);
                    for (var start = 0; start < batch.Count; start += ChunkSize)
                    {
                        ThreadPool.UnsafeQueueUserWorkItem(new OfferChunk(round, start), preferLocal: false);
                    }

                    await round.Done.Task.ConfigureAwait(false);
                    dropped.AddRange(round.Dropped);
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
            // The read failed (the topic is gone, the log is closing, corrupt records, retention, a backend hiccup): each
            // pump reads for itself and meets what it meets as before.
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

    private const int ChunkSize = 32;

    private static void Offer(List<Parked> batch, int start, int end, long from, ReadResult read, List<Parked> dropped)
    {
        for (var i = start; i < end; i++)
        {
            var parked = batch[i];
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
    }

    private sealed class OfferRound(List<Parked> batch, long from, ReadResult read, int chunks)
    {
        private int _left = chunks;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<Parked> Dropped { get; } = [];

        public void Run(int start)
        {
            List<Parked> dropped = [];
            Offer(batch, start, Math.Min(start + ChunkSize, batch.Count), from, read, dropped);
            if (dropped.Count > 0)
            {
                lock (Dropped)
                {
                    Dropped.AddRange(dropped);
                }
            }

            if (Interlocked.Decrement(ref _left) == 0)
            {
                Done.TrySetResult();
            }
        }
    }

    private sealed class OfferChunk(OfferRound round, int start) : IThreadPoolWorkItem
    {
        public void Execute() => round.Run(start);
    }

    // Under _gate.
    private static void Remove(Parked parked)
    {
        if (parked.Feed is { } feed && feed.Parked.Remove(parked) && feed.Parked.Count == 0)
        {
            // Nobody left to wait for: the feed's wait ends, off this thread (a pump's token may be cancelled under its
            // subscription's lock, and the wait may continue where it is cancelled).
            ThreadPool.UnsafeQueueUserWorkItem(static stop => stop.Cancel(), feed.Stop, preferLocal: false);
        }
    }

    private sealed class Feed(TopicName topic, int partition)
    {
        public TopicName Topic { get; } = topic;

        public int Partition { get; } = partition;

        public HashSet<Parked> Parked { get; } = [];

        public CancellationTokenSource Stop { get; set; } = new();

        /// <summary>Where the feed reads next: the end of its last read (at first, the first pump's position).</summary>
        public long Front { get; set; }
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
