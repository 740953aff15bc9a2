namespace Sluice.Bench.Http;

/// <summary>
/// One open-loop run at a fixed rate. <see cref="RoundTrip"/> is each POST's scheduled send time to its answer;
/// <see cref="EndToEnd"/> (produce-to-pull runs only) is the scheduled send time to the pull answer that carried it.
/// The samples (milliseconds, measured window only) let runs be pooled.
/// </summary>
internal sealed record LatencyResult(
    int TargetRate,
    double AchievedRate,
    long Scheduled,
    long Failed,
    long NotReceived,
    long Duplicates,
    double SendLagP99Ms,
    Percentiles RoundTrip,
    Percentiles? EndToEnd,
    IReadOnlyList<double> RoundTripSamplesMs,
    IReadOnlyList<double> EndToEndSamplesMs);
