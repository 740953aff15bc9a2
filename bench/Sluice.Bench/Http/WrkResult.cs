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
    /// <summary>A run counts as throughput only when every response was 2xx and no socket failed.</summary>
    public bool Clean => Non2xx == 0 && SocketErrors == 0 && Requests > 0;

    /// <summary>Why the run is not clean, for the table ("" when it is).</summary>
    public string Failures => Clean
        ? ""
        : $"{Non2xx:N0} non-2xx, {SocketErrors:N0} socket errors of {Requests:N0} requests";
}
