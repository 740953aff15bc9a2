namespace Sluice.Bench.Http;

/// <summary>What one wrk run reports: throughput, latency percentiles and every kind of failure.</summary>
internal sealed record WrkResult(
    double RequestsPerSecond,
    long Requests,
    double Seconds,
    double P50Ms,
    double P99Ms,
    long Non2xx,
    long SocketErrors,
    string Raw)
{
    /// <summary>CPU the server under load used over the measured run (user + system, from /proc); zero when not read.</summary>
    public TimeSpan ServerCpu { get; init; }

    /// <summary>Server CPU per request, in microseconds.</summary>
    public double CpuMicrosPerRequest => Requests == 0 ? double.NaN : ServerCpu.TotalMicroseconds / Requests;

    /// <summary>A run counts as throughput only when every response was 2xx and no socket failed.</summary>
    public bool Clean => Non2xx == 0 && SocketErrors == 0 && Requests > 0;

    /// <summary>Why the run is not clean, for the table ("" when it is).</summary>
    public string Failures => Clean
        ? ""
        : $"{Non2xx:N0} non-2xx, {SocketErrors:N0} socket errors of {Requests:N0} requests";

    /// <summary>Several rounds as one: mean rate and percentiles, summed counts (clean only when every round was).</summary>
    public static WrkResult MeanOf(IReadOnlyList<WrkResult> rounds) => new(
        rounds.Average(r => r.RequestsPerSecond),
        rounds.Sum(r => r.Requests),
        rounds.Sum(r => r.Seconds),
        rounds.Average(r => r.P50Ms),
        rounds.Average(r => r.P99Ms),
        rounds.Sum(r => r.Non2xx),
        rounds.Sum(r => r.SocketErrors),
        string.Join("\n", rounds.Select(r => r.Raw)))
    {
        ServerCpu = rounds.Aggregate(TimeSpan.Zero, (sum, r) => sum + r.ServerCpu),
    };
}
