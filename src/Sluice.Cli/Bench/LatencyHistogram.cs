namespace Sluice.Cli.Bench;

/// <summary>
/// Latencies in fixed memory whatever the run's length: log-linear buckets (16 per power of two of microseconds, so a
/// percentile is within ~6% of the true value), as HdrHistogram does with more precision. Thread-safe.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 16;
    private const int Powers = 40; // 2^40 µs is 12 days: nothing measured here is longer
    private readonly long[] _counts = new long[Powers * SubBuckets];
    private long _total;
    private long _maxMicros;

    public long Count => Interlocked.Read(ref _total);

    public void Record(TimeSpan latency)
    {
        var micros = Math.Max(0, (long)latency.TotalMicroseconds);
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _total);
        long seen;
        while (micros > (seen = Interlocked.Read(ref _maxMicros)) && Interlocked.CompareExchange(ref _maxMicros, micros, seen) != seen)
        {
        }
    }

    /// <summary>The latency below which <paramref name="percentile"/> % of the samples are (the bucket's upper bound).</summary>
    public TimeSpan Percentile(double percentile)
    {
        var total = Count;
        if (total == 0)
        {
            return TimeSpan.Zero;
        }

        var rank = (long)Math.Ceiling(total * percentile / 100);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return TimeSpan.FromMicroseconds(Math.Min(UpperBound(i), Interlocked.Read(ref _maxMicros)));
            }
        }

        return Max;
    }

    public TimeSpan Max => TimeSpan.FromMicroseconds(Interlocked.Read(ref _maxMicros));

    private static int Index(long micros)
    {
        if (micros < SubBuckets)
        {
            return (int)micros;
        }

        var power = 63 - (int)long.LeadingZeroCount(micros); // >= 4
        var sub = (int)((micros >> (power - 4)) & (SubBuckets - 1));
        return Math.Min((power - 3) * SubBuckets + sub, Powers * SubBuckets - 1);
    }

    private static long UpperBound(int index)
    {
        if (index < SubBuckets)
        {
            return index;
        }

        var power = index / SubBuckets + 3;
        var sub = index % SubBuckets;
        return ((SubBuckets + sub + 1L) << (power - 4)) - 1;
    }
}
