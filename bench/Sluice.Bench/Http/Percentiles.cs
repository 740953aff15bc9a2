namespace Sluice.Bench.Http;

/// <summary>p50 and p99 in milliseconds over <see cref="Count"/> samples.</summary>
internal sealed record Percentiles(long Count, double P50Ms, double P99Ms)
{
    public static Percentiles Of(List<double> samplesMs)
    {
        samplesMs.Sort();
        return new Percentiles(samplesMs.Count, At(samplesMs, 0.50), At(samplesMs, 0.99));
    }

    /// <summary>The middle of <paramref name="values"/> (the mean of the two middle ones for an even count): a figure
    /// over rounds, so that one round's bad seconds do not decide it.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double At(List<double> sorted, double p)
        => sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
