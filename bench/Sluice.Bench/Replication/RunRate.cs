namespace Sluice.Bench.Replication;

/// <summary>Records per second of one run: from its start, and steady (after its first acknowledged batch).</summary>
internal readonly record struct RunRate(double FromStart, double Steady, TimeSpan FirstBatch)
{
    /// <param name="records">Records in the run.</param>
    /// <param name="elapsed">From the start to the last acknowledgement.</param>
    /// <param name="firstAt">When the first acknowledgement was seen.</param>
    /// <param name="doneAtFirst">Records acknowledged by then.</param>
    public static RunRate Of(long records, TimeSpan elapsed, TimeSpan firstAt, long doneAtFirst)
    {
        var steadyTime = (elapsed - firstAt).TotalSeconds;
        var steady = steadyTime > 0 && records > doneAtFirst ? (records - doneAtFirst) / steadyTime : records / elapsed.TotalSeconds;
        return new RunRate(records / elapsed.TotalSeconds, steady, firstAt);
    }
}
