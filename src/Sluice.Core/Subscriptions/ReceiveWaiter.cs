using System.Threading.Tasks.Sources;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// One receive's place on a subscription while it waits for something to change. The subscription keeps its waiters in
/// arrival order and wakes them one at a time where any consumer can take any message (shared, exclusive), so a message
/// wakes one receiver instead of every connection on the subscription.
/// <para>
/// Reusable: a consumer handle keeps one between its receives, and each wait arms it again. A wait ends at the first
/// of a wake, its timeout, an interrupt or its token; none of them allocates. So an idle stream holds this object and
/// its queue node (and a timer only if it waits with a timeout: SSE's keep-alive comes from one shared clock), and a
/// fan-out's receives (one per subscriber and append) make no promise, timer or token source each.
/// </para>
/// <code>
///   Arm (under the subscription's lock) ──► WaitAsync(timeout, token) ──► awaited ──► Disarm
///        └── Wake (under the lock), the timer, the token: the first to come completes the wait; the others find it done
/// </code>
/// <see cref="Node"/>, <see cref="Woken"/> and <see cref="Arm"/> are used under the subscription's lock.
/// </summary>
internal sealed class ReceiveWaiter : IValueTaskSource
{
    private readonly TimeProvider _time;

    // Made at the first wait: a pull that finds messages at once (a new handle per request) never needs one.
    private ITimer? _timer;
    private bool _timerRunning;
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private static readonly TimerCallback OnTimer = static s => ((ReceiveWaiter)s!).Complete();
    private CancellationTokenRegistration _registration;

    // Armed from Arm until one completer wins and moves it to Completing; Idle once its SetResult is done. Arm waits out
    // a Completing (a late timer callback of an earlier wait may be in the middle of one), so a reset never meets a
    // completion of the version before it.
    private const int Idle = 0;
    private const int Armed = 1;
    private const int Completing = 2;
    private int _state;

    public ReceiveWaiter(TimeProvider time)
    {
        Node = new LinkedListNode<ReceiveWaiter>(this);
        _time = time;
    }

    /// <summary>Its node in the subscription's queue, made once; <see cref="Parked"/> while it is in the queue.</summary>
    public LinkedListNode<ReceiveWaiter> Node { get; }

    public bool Parked => Node.List is not null;

    /// <summary>Woken, and its receive has not looked at the subscription since: a wake it must pass on if it gives up.</summary>
    public bool Woken { get; set; }

    /// <summary>A fresh wait, ended by the next <see cref="Wake"/>, its timeout or its token.</summary>
    public void Arm()
    {
        var spin = default(SpinWait);
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Armed:
                    // Armed by an earlier receive that did not wait after all: that version was never awaited.
                    return;
                case Idle:
                    _core.Reset();
                    Volatile.Write(ref _state, Armed);
                    return;
                default:
                    spin.SpinOnce();
                    break;
            }
        }
    }

    public void Wake()
    {
        Woken = true;
        Complete();
    }

    /// <summary>Ends the armed wait as its timeout would (its receive decides what that means).</summary>
    public void Interrupt() => Complete();

    /// <summary>
    /// Waits for the armed wait's end: a wake, <paramref name="timeout"/> passed, or <paramref name="cancellationToken"/>
    /// cancelled. The caller tells which by looking again: a timer that fires a little early only makes it look once more.
    /// </summary>
    public ValueTask WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(static s => ((ReceiveWaiter)s!).Complete(), this);
        }

        if (timeout == Timeout.InfiniteTimeSpan)
        {
            // No timer: the wait ends by a wake, an interrupt or the token (a stream whose keep-alive clock is shared).
        }
        else if (_timer is null)
        {
            _timer = _time.CreateContextFreeTimer(OnTimer, this, timeout, Timeout.InfiniteTimeSpan);
            _timerRunning = true;
        }
        else
        {
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
            _timerRunning = true;
        }

        return new ValueTask(this, _core.Version);
    }

    /// <summary>
    /// After the wait: stops its timer and its token's callback (pooled by the token's source). Disposing the
    /// registration waits for a callback already running, so no token of this wait can end a later one; a timer
    /// callback already on its way can, which only makes that wait look once more.
    /// </summary>
    public void Disarm()
    {
        if (_timerRunning)
        {
            _timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timerRunning = false;
        }

        _registration.Dispose();
        _registration = default;
    }

    /// <summary>The receive is over for good: the timer goes back to its queue.</summary>
    public void Close() => _timer?.Dispose();

    private void Complete()
    {
        if (Interlocked.CompareExchange(ref _state, Completing, Armed) == Armed)
        {
            _core.SetResult(true);
            Volatile.Write(ref _state, Idle);
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
