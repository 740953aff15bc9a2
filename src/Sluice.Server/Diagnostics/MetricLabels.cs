namespace Sluice.Server.Diagnostics;

/// <summary>
/// The label policy of per-topic and per-subscription series (<c>metrics:labels</c>, <c>metrics:maxSeries</c>): which
/// labels a series keeps, and at most how many label sets one instrument reports. Series past the cap, in name order,
/// are summed into one series labelled <see cref="Other"/>, so a gateway with a million subscriptions still exports a
/// bounded scrape and totals stay right.
/// </summary>
internal sealed class MetricLabels(string mode, int maxSeries)
{
    /// <summary>The label value of the series that sums everything past the cap.</summary>
    public const string Other = "_other";

    public bool KeepTopic { get; } = mode is "subscription" or "topic";

    public bool KeepSubscription { get; } = mode == "subscription";

    public int MaxSeries { get; } = maxSeries;

    /// <summary>
    /// Groups <paramref name="values"/> by the labels kept, sums each group, caps the groups at <see cref="MaxSeries"/>
    /// (first in topic, then subscription, name order) and returns the series to report.
    /// </summary>
    public List<Series> Aggregate(IEnumerable<(string Topic, string? Subscription, long Value)> values)
    {
        var sums = new SortedDictionary<(string Topic, string Subscription), long>();
        long other = 0;
        var overflow = false;
        foreach (var (topic, subscription, value) in values)
        {
            // Already past a cap upstream (TopicCounter's shared box): stays in the overflow series.
            if (topic == Other)
            {
                other += value;
                overflow = true;
                continue;
            }

            var key = (KeepTopic ? topic : "", KeepSubscription ? subscription ?? "" : "");
            sums[key] = sums.GetValueOrDefault(key) + value;
        }

        var series = new List<Series>(Math.Min(sums.Count, MaxSeries) + 1);
        foreach (var ((topic, subscription), value) in sums)
        {
            if (series.Count < MaxSeries)
            {
                series.Add(new Series(topic, subscription, value));
            }
            else
            {
                other += value;
                overflow = true;
            }
        }

        if (overflow)
        {
            series.Add(new Series(KeepTopic ? Other : "", KeepSubscription ? Other : "", other));
        }

        return series;
    }

    /// <summary>One reported series: empty label values are labels this policy drops.</summary>
    internal readonly record struct Series(string Topic, string Subscription, long Value);
}
