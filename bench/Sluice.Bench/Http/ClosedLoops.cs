using System.Diagnostics;
using System.Text;
using static System.FormattableString;

namespace Sluice.Bench.Http;

/// <summary>
/// Closed-loop load from this process: N loops each calling an operation back to back, and two operations compared in
/// interleaved rounds of the same length, so both sides of a ratio see the same machine at nearly the same time.
/// </summary>
internal static class ClosedLoops
{
    /// <summary>A mean over rounds, with the rounds.</summary>
    public sealed record Result(double Mean, IReadOnlyList<double> Rounds)
    {
        public static implicit operator Result(double single) => new(single, [single]);

        public string RoundsText(Result other) => string.Join(" / ", Rounds.Zip(other.Rounds, (a, b) => Invariant($"{a:N0} : {b:N0}")));
    }

    /// <summary>Rounds of A then B (warm-ups in the first round); operations per second of each, means over the rounds.</summary>
    public static async Task<(Result A, Result B)> PairAsync(Func<Task> a, Func<Task> b, int concurrency, int rounds, TimeSpan warmup, TimeSpan measure)
    {
        var ra = new List<double>();
        var rb = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            if (round == 0)
            {
                await RunAsync(a, concurrency, warmup);
                await RunAsync(b, concurrency, warmup);
            }

            ra.Add(await RunAsync(a, concurrency, measure));
            rb.Add(await RunAsync(b, concurrency, measure));
        }

        return (new Result(ra.Average(), ra), new Result(rb.Average(), rb));
    }

    /// <summary><paramref name="concurrency"/> loops calling <paramref name="operation"/> for <paramref name="duration"/>; calls per second.</summary>
    public static async Task<double> RunAsync(Func<Task> operation, int concurrency, TimeSpan duration)
    {
        long done = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                await operation();
                Interlocked.Increment(ref done);
            }
        })));
        return done / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Appends <paramref name="count"/> messages of <paramref name="valueBytes"/> through Sluice's NDJSON batch route, 1,000 per request.</summary>
    public static async Task FillAsync(HttpClient http, string batchPath, int count, int valueBytes)
    {
        for (var sent = 0; sent < count; sent += 1000)
        {
            var body = string.Concat(Enumerable.Range(sent, Math.Min(1000, count - sent)).Select(i => Invariant($"{{\"value\":\"{i:D10}{new string('v', valueBytes - 10)}\"}}\n")));
            using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
            (await http.PostAsync(batchPath, content)).EnsureSuccessStatusCode();
        }
    }

    public static async Task PutAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PutAsync(path, content);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}
