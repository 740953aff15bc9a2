namespace Sluice.Core;

/// <summary>Timers that do not capture the caller's execution context.</summary>
public static class ContextFreeTimers
{
    /// <summary>
    /// <see cref="TimeProvider.CreateTimer"/> without the calling request's execution context: a timer that outlives the
    /// request (a consumer handle's, a server-wide clock) would otherwise keep its async-locals (its activity, its logging
    /// scope) alive as long as the timer.
    /// </summary>
    public static ITimer CreateContextFreeTimer(this TimeProvider time, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (ExecutionContext.IsFlowSuppressed())
        {
            return time.CreateTimer(callback, state, dueTime, period);
        }

        using (ExecutionContext.SuppressFlow())
        {
            return time.CreateTimer(callback, state, dueTime, period);
        }
    }
}
