namespace Sluice.Core.Delay;

/// <summary>Limits of delayed messages, shared by every API that produces them.</summary>
public static class DelayLimits
{
    /// <summary>The longest delay: 365 days after the produce. A later delivery time is refused.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(365);

    /// <summary>
    /// A delivery time in whole epoch milliseconds, rounded up: a message is never delivered before the time asked,
    /// however precise it was.
    /// </summary>
    public static long ToDueMs(DateTimeOffset deliverAt)
    {
        var ms = deliverAt.ToUnixTimeMilliseconds();
        return deliverAt.UtcTicks % TimeSpan.TicksPerMillisecond == 0 ? ms : ms + 1;
    }

    /// <summary>Null when <paramref name="deliverAt"/> is acceptable at <paramref name="now"/>, else why not.</summary>
    public static string? Check(DateTimeOffset deliverAt, DateTimeOffset now)
        => deliverAt - now > MaxDelay
            ? $"a delivery time may be at most {MaxDelay.TotalDays:0} days ahead ({(now + MaxDelay).UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ} now); got {deliverAt.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}"
            : null;
}
