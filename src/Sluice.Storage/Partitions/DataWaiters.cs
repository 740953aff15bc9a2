using System.Buffers;
using System.Threading.Tasks.Sources;

namespace Sluice.Storage.Partitions;

/// <summary>
/// The readers of one partition waiting for its end to move: every subscription's read-ahead waits here between
/// reads, so a fan-out to a thousand subscriptions wakes a thousand waits at every commit.
/// <code>
///   WaitAsync(offset) ──► end already past it: done ──► else a pooled waiter joins the list (under the gate)
///   Publish (after the end moved) ──► every waiter the end has passed leaves the list and completes
///   token cancelled ──► that waiter leaves the list and fails     Close ──► every waiter fails, later waits too
///   awaited (GetResult) ──► the waiter goes back to the pool
/// </code>
/// Why not a task completed at each commit and awaited with <c>WaitAsync(token)</c>: that made each wait a
/// cancellation promise, a completion action and an async method's box, and ran each wake through all three. Here a
/// wait is one pooled object with its token's registration, and its wake queues the reader's continuation itself.
/// The pool keeps at most <see cref="MaxPooled"/> waiters, none of them holding a reader's continuation (reset when
/// the wait is awaited), and is dropped at close.
/// </summary>
internal sealed class DataWaiters(Func<long> end)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiting = new();
    private readonly Stack<Waiter> _pool = new();
    private Func<Exception>? _closed;

    /// <summary>
    /// Completes once the end is past <paramref name="offset"/>; fails with <paramref name="cancellationToken"/> or the
    /// partition's close.
    /// </summary>
    public ValueTask WaitAsync(long offset, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        Waiter waiter;
        lock (_gate)
        {
            if (_closed is { } closed)
            {
                return ValueTask.FromException(closed());
            }

            // Under the gate, as a publish reads the end: a wait either sees the end that publish saw or is on the list then.
            if (end() > offset)
            {
                return ValueTask.CompletedTask;
            }

            waiter = _pool.TryPop(out var pooled) ? pooled : new Waiter(this);
            waiter.Arm(offset);
            _waiting.AddLast(waiter.Node);
        }

        return waiter.Start(cancellationToken);
    }

    /// <summary>Wakes every waiter the end has passed; called after a new end is visible.</summary>
    public void Publish()
    {
        Waiter[] woken;
        var count = 0;
        lock (_gate)
        {
            if (_waiting.Count == 0)
            {
                return;
            }

            // The end now, not the one this call was made for: a commit's publish can come after a later commit's end
            // was read by a wait that then joined the list; that wait is for more than this end and stays.
            var now = end();
            woken = ArrayPool<Waiter>.Shared.Rent(_waiting.Count);
            for (var node = _waiting.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Offset < now)
                {
                    // Off the list under the gate: a cancellation finds its waiter gone and leaves it to this publish.
                    _waiting.Remove(node);
                    woken[count++] = node.Value;
                }

                node = next;
            }
        }

        // Outside the gate: completing queues each reader's continuation, which may wait here again at once.
        for (var i = 0; i < count; i++)
        {
            woken[i].Complete(null);
        }

        ArrayPool<Waiter>.Shared.Return(woken, clearArray: true);
    }

    /// <summary>Fails every waiter, and every later wait, with what <paramref name="error"/> makes.</summary>
    public void Close(Func<Exception> error)
    {
        List<Waiter> failed;
        lock (_gate)
        {
            _closed = error;
            failed = [.. _waiting];
            _waiting.Clear();
            _pool.Clear();
        }

        foreach (var waiter in failed)
        {
            waiter.Complete(error());
        }
    }

    // A cancelled wait leaves the list, unless a publish took it already (then that publish completes it, or did).
    private bool Leave(Waiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Node.List is { } list)
            {
                list.Remove(waiter.Node);
                return true;
            }

            return false;
        }
    }

    private void Return(Waiter waiter)
    {
        lock (_gate)
        {
            if (_closed is null && _pool.Count < MaxPooled)
            {
                _pool.Push(waiter);
            }
        }
    }

    // Enough for a fan-out's subscriptions on one partition; past it a wait allocates its waiter, as every wait did before.
    private const int MaxPooled = 4096;

    private sealed class Waiter : IValueTaskSource
    {
        private readonly DataWaiters _owner;
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private CancellationTokenRegistration _registration;

        public Waiter(DataWaiters owner)
        {
            _owner = owner;
            Node = new LinkedListNode<Waiter>(this);
        }

        public LinkedListNode<Waiter> Node { get; }

        /// <summary>The offset the end must pass.</summary>
        public long Offset { get; private set; }

        public void Arm(long offset)
        {
            _core.Reset();
            Offset = offset;
        }

        public ValueTask Start(CancellationToken cancellationToken)
        {
            var version = _core.Version;
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static (s, token) => ((Waiter)s!).Cancel(token), this);
            }

            return new ValueTask(this, version);
        }

        // Called once per wait, by whoever took the waiter off the list under the gate (a publish, a close or its token).
        public void Complete(Exception? error)
        {
            if (error is null)
            {
                _core.SetResult(true);
            }
            else
            {
                _core.SetException(error);
            }
        }

        private void Cancel(CancellationToken token)
        {
            if (_owner.Leave(this))
            {
                Complete(new OperationCanceledException(token));
            }
        }

        public void GetResult(short token)
        {
            // Only the first GetResult of a completed wait ends it: a stale token, a second await or a GetResult before
            // the wait completed (misuses of the ValueTask) throws from the core without touching the waiter, which may
            // be on the list or serving another reader.
            if (token != _core.Version || _core.GetStatus(token) == ValueTaskSourceStatus.Pending)
            {
                _core.GetResult(token);
            }

            try
            {
                _core.GetResult(token);
            }
            finally
            {
                // Waits for a cancellation callback already running, so none can reach this waiter's next wait.
                _registration.Dispose();
                _registration = default;

                // Drops the reader's continuation and any error now (a pooled waiter would keep its last reader's state
                // machine, and with it a subscription's read-ahead, alive) and makes this token stale.
                _core.Reset();
                _owner.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}
