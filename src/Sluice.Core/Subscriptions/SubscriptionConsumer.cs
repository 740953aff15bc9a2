namespace Sluice.Core.Subscriptions;

/// <summary>
/// One attachment of a consumer id to a subscription. Several handles with the same id share one registered
/// consumer; disposing the last starts that consumer's session timeout.
/// </summary>
internal sealed class SubscriptionConsumer(SubscriptionService service, Subscription subscription, ConsumerState state, TimeProvider time) : ISubscriptionConsumer
{
    private int _disposed;

    // Kept between receives (an idle stream's next wait reuses it); closed with the handle.
    private ReceiveWaiter? _waiter;

    // Poll's waiter, parked between its calls (unparked when the handle is disposed); whether Poll has read the log
    // since its start or its last interrupt; and an interrupt not yet answered.
    private ReceiveWaiter? _polling;
    private bool _polledLog;
    private int _interrupted;

    // HoldNewMessages: new messages are taken held, and what this handle holds is kept here, in take order, until acked or
    // returned (settled ones are dropped from the front after each ack, and all of them when they pile up behind one).
    // Made at the first held take and dropped when a wait ends (Poll's interrupt, ReceiveAsync's timeout) with it empty,
    // as the stream's own lists are: a stream that went quiet holds no more than one that never had traffic. Used by the
    // handle's one caller at a time (a stream's loop, then its dispose).
    private bool _hold;
    private Queue<Delivery>? _held;
    private int _heldCompactAt = MinHeldCompact;
    private const int MinHeldCompact = 256;

    public string ConsumerId => state.Id;

    public CancellationToken Ended => state.Ended.Token;

    public async ValueTask<IReadOnlyList<Delivery>> ReceiveAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        if (wait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(wait), wait, "wait must not be negative");
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ThrowIfEnded();

        // The handle's one waiter carries the caller's token and the timeout (on the injected clock), and the consumer's
        // end wakes it through the subscription (EndConsumers): no promise, token source or timer per wait. A waiting
        // receive is what every idle stream holds, and a fan-out starts one per subscriber and batch.
        // On the clock's monotonic timestamps: a wall clock stepped back while waiting does not stretch the wait.
        var started = time.GetTimestamp();
        var filled = false;

        // A receive that wants more than is buffered reads what the log holds beyond the read-ahead first, inline, and
        // before it takes anything, so nothing it leases waits on the read. The read-ahead keeps ReadAheadMessages per
        // partition ahead of its consumers: without this, a pull of 1,000 from a backlog was answered with 256, and its
        // client paid a request, an ack and the ack's cursor sync per 256. It never waits for new messages.
        await subscription.FillAsync(state, cancellationToken, topUp: max).ConfigureAwait(false);

        // Parked on the subscription only while this receive waits (see ReceiveWaiter): never left behind. Taken after
        // the first look (which never waits: it fills first), so a pull that finds messages at once needs none. Receives
        // on one handle at once (allowed, if unusual) each get a waiter; one goes back to the handle afterwards.
        ReceiveWaiter? waiter = null;
        try
        {
            while (true)
            {
                if (filled && wait > TimeSpan.Zero)
                {
                    waiter ??= Interlocked.Exchange(ref _waiter, null) ?? new ReceiveWaiter(time);
                }

                var deliveries = Take(max, waiter, out var changed);
                if (deliveries.Count == 0 && !filled)
                {
                    // Nothing buffered: look at the log once before waiting (the read-ahead may not have got there yet).
                    filled = true;
                    await subscription.FillAsync(state, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (deliveries.Count > 0)
                {
                    // Leased already: hand them over even if the caller gave up meanwhile, rather than strand them until
                    // their deadline.
                    return deliveries;
                }

                cancellationToken.ThrowIfCancellationRequested();
                ThrowIfEnded();
                var remaining = waiter is null ? TimeSpan.Zero : wait - time.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                {
                    // A wait that ended empty: a stream that went quiet drops its emptied queue (as Poll's interrupt does).
                    DropEmptyHeld();
                    return deliveries;
                }

                // Ends at the next change, at the timeout, or cancelled; each comes back for one more look (the clock
                // says whether the time is up).
                if (changed is null)
                {
                    try
                    {
                        await waiter!.WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        waiter!.Disarm();
                    }
                }
                else
                {
                    await changed.WaitAsync(remaining, time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            if (waiter is not null)
            {
                subscription.EndWait(waiter);
                if (Volatile.Read(ref _disposed) != 0 || Interlocked.CompareExchange(ref _waiter, waiter, null) is not null)
                {
                    waiter.Close();
                }
            }
        }
    }

    public IReadOnlyList<Delivery> Poll(int max, out ValueTask? wait, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ThrowIfEnded();
        var waiter = _polling ??= new ReceiveWaiter(time);
        waiter.Disarm();
        wait = null;
        while (true)
        {
            // Takes, or parks and arms the waiter (the same look as ReceiveAsync's, without a frame around it).
            var deliveries = Take(max, waiter, out var changed);
            if (deliveries.Count > 0)
            {
                return deliveries;
            }

            if (!_polledLog)
            {
                // The first look, and the first after an interrupt, also reads the log (the read-ahead may not have got
                // there yet, or may have stopped); in between, the read-ahead's signals wake the waiter.
                _polledLog = true;
                var fill = subscription.FillAsync(state, cancellationToken);
                if (fill.IsCompleted)
                {
                    fill.GetAwaiter().GetResult(); // a failed read throws here
                    continue;
                }

                subscription.EndWait(waiter);
                wait = fill;
                return deliveries;
            }

            ThrowIfEnded();
            if (Interlocked.Exchange(ref _interrupted, 0) != 0)
            {
                // Not parked while the caller writes its keep-alive: a wake meanwhile goes to another receiver.
                subscription.EndWait(waiter);
                _polledLog = false;
                DropEmptyHeld();

                return deliveries;
            }

            if (changed is not null)
            {
                if (changed.IsCompleted)
                {
                    // Something changed between the take and now: look again.
                    continue;
                }

                // The consumer is ending: cancelled when it has ended.
                wait = new ValueTask(changed);
                return deliveries;
            }

            // Parked and armed (under the subscription's lock), then the flag read again behind a full fence: Interrupt
            // sets the flag, then completes the armed waiter, so one side sees the other. An interrupt seen here, or a
            // wake that already came, sends it round once more, to answer with what it is.
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _interrupted) != 0)
            {
                continue;
            }

            var parked = waiter.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);
            if (parked.IsCompleted)
            {
                parked.GetAwaiter().GetResult();
                continue;
            }

            wait = parked;
            return deliveries;
        }
    }

    public void Interrupt()
    {
        Interlocked.Exchange(ref _interrupted, 1);
        Volatile.Read(ref _polling)?.Interrupt();
    }

    // An ended consumer never answers an empty list: a loop that calls again at once would spin on it.
    private void ThrowIfEnded()
    {
        if (state.Ended.IsCancellationRequested)
        {
            throw new ConsumerEndedException(state.EndReason ?? ConsumerEndReason.SubscriptionDeleted, state.Id, state.Ended.Token);
        }
    }

    public IReadOnlyList<Delivery> TakeReady(int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return Volatile.Read(ref _disposed) != 0 || Ended.IsCancellationRequested ? [] : Take(max, null, out _);
    }

    public void HoldNewMessages() => _hold = true;

    private IReadOnlyList<Delivery> Take(int max, ReceiveWaiter? waiter, out Task? changed)
    {
        var deliveries = subscription.Take(state, max, waiter, out changed, _hold);
        if (_hold && deliveries.Count > 0)
        {
            for (var i = 0; i < deliveries.Count; i++) // indexed: a foreach over the interface boxes its enumerator
            {
                var d = deliveries[i];
                if (d.HeldBy is not null)
                {
                    (_held ??= new()).Enqueue(d);
                }
            }

            if (Volatile.Read(ref _disposed) != 0)
            {
                // Disposed while this take ran (after its check): nobody would return them later.
                ReturnAllHeld();
            }
        }

        return deliveries;
    }

    private void DropEmptyHeld()
    {
        if (_held is { Count: 0 })
        {
            _held = null;
        }
    }

    public ValueTask<int> AckAsync(IReadOnlyList<Delivery> deliveries, bool waitDurable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        if (deliveries.Count == 0)
        {
            return ValueTask.FromResult(0);
        }

        // The engine settles held deliveries before this returns (its first part runs under the subscription's lock).
        var acked = service.AckDeliveriesAsync(subscription, state, deliveries, waitDurable, cancellationToken);
        if (_hold)
        {
            PruneHeld();
        }

        return acked;
    }

    public ValueTask ReleaseInFlightAsync(CancellationToken cancellationToken = default)
    {
        ReturnAllHeld();
        subscription.Release(state);
        return ValueTask.CompletedTask;
    }

    public async ValueTask ReturnAsync(IReadOnlyList<Delivery> deliveries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        List<Delivery>? held = null;
        List<string>? leased = null;
        foreach (var d in deliveries)
        {
            if (d.HeldBy is not null)
            {
                (held ??= []).Add(d);
            }
            else
            {
                (leased ??= []).Add(d.AckId);
            }
        }

        if (held is not null)
        {
            subscription.ReturnHeld(held, state);
            PruneHeld();
        }

        if (leased is not null)
        {
            // By id, as a client's nack: a lease on a partition another fleet member now delivers is settled there.
            await service.NackAsync(subscription.Topic, subscription.Name, leased, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
    }

    // Drops settled deliveries from the front; when a held one stays unsettled in front of many settled ones (acks out
    // of take order), all the settled ones, at most once per doubling of the queue.
    private void PruneHeld()
    {
        if (_held is not { } held)
        {
            return;
        }

        while (held.TryPeek(out var d) && d.HeldSettled)
        {
            held.Dequeue();
        }

        if (held.Count >= _heldCompactAt)
        {
            for (var n = held.Count; n > 0; n--)
            {
                var d = held.Dequeue();
                if (!d.HeldSettled)
                {
                    held.Enqueue(d);
                }
            }

            _heldCompactAt = Math.Max(MinHeldCompact, 2 * held.Count);
        }
    }

    private void ReturnAllHeld()
    {
        if (_held is not { Count: > 0 } held)
        {
            return;
        }

        _held = null;
        subscription.ReturnHeld(held, state);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (_polling is { } polling)
            {
                // Unparked, and a wake it got but no call acted on goes to the next waiter.
                subscription.EndWait(polling);
                polling.Close();
            }

            // What it still holds goes back before it detaches: no held message outlives its handle.
            try
            {
                ReturnAllHeld();
            }
            finally
            {
                subscription.Detach(state);
                Interlocked.Exchange(ref _waiter, null)?.Close();
            }
        }

        return ValueTask.CompletedTask;
    }
}
