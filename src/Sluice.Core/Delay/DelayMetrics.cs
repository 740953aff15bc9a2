using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Core.Topics;

namespace Sluice.Core.Delay;

/// <summary>Delayed messages on the <c>Sluice.Core</c> meter, tagged with the topic (<c>messaging.destination.name</c>).</summary>
internal static class DelayMetrics
{
    private static readonly Meter Meter = new(Subscriptions.DeliveryMetrics.MeterName);

    private static readonly Counter<long> Held = Meter.CreateCounter<long>(
        "sluice.delay.held", "{message}", "Delayed messages produced (held until due)");

    private static readonly UpDownCounter<long> Pending = Meter.CreateUpDownCounter<long>(
        "sluice.delay.pending", "{message}", "Delayed messages pending in the partitions this instance schedules");

    private static readonly Counter<long> Fired = Meter.CreateCounter<long>(
        "sluice.delay.fired", "{message}", "Delayed messages delivered to their topic when due (again after a crash included)");

    private static readonly Counter<long> Cancelled = Meter.CreateCounter<long>(
        "sluice.delay.cancelled", "{message}", "Delayed messages cancelled before they were due");

    private static readonly Histogram<double> Lateness = Meter.CreateHistogram<double>(
        "sluice.delay.lateness", "ms", "How long after its time a delayed message was appended to its topic");

    public static void OnHeld(TopicName topic, int count)
    {
        if (Held.Enabled)
        {
            Held.Add(count, Tags(topic));
        }
    }

    public static void OnPending(TopicName topic, long delta)
    {
        if (delta != 0 && Pending.Enabled)
        {
            Pending.Add(delta, Tags(topic));
        }
    }

    public static void OnFired(TopicName topic, int count)
    {
        if (count > 0 && Fired.Enabled)
        {
            Fired.Add(count, Tags(topic));
        }
    }

    public static void OnCancelled(TopicName topic)
    {
        if (Cancelled.Enabled)
        {
            Cancelled.Add(1, Tags(topic));
        }
    }

    public static void OnLateness(TopicName topic, double ms)
    {
        if (Lateness.Enabled)
        {
            Lateness.Record(ms, Tags(topic));
        }
    }

    private static TagList Tags(TopicName topic) => new() { { "messaging.system", "sluice" }, { "messaging.destination.name", topic.ToString() } };
}
