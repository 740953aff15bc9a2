using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The engine's own instruments on the <c>Sluice.Core</c> meter: cursor appends, and the rare corrupt-skip count.
/// Per-subscription counts (messages, wake-ups, waiting receives) are not here: each subscription keeps plain counters
/// (<see cref="SubscriptionCounters"/>) that the server exports as observable instruments, read at collection time, so
/// a pull that parks or wakes pays no tag list.
/// </summary>
internal static class DeliveryMetrics
{
    public const string MeterName = "Sluice.Core";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> CursorAppends = Meter.CreateCounter<long>(
        "sluice.subscription.cursor_appends", "{append}", "Appends to the cursor state topic (acks share them)");

    private static readonly Counter<long> CorruptSkipped = Meter.CreateCounter<long>(
        "sluice.subscription.corrupt_skipped", "{message}", "Offsets skipped because the log reported their records damaged");

    public static void OnCorruptSkipped(TopicName topic, string name, long offsets)
    {
        if (offsets > 0 && CorruptSkipped.Enabled)
        {
            CorruptSkipped.Add(offsets, Tags(topic, name));
        }
    }

    public static void OnCursorAppend() => CursorAppends.Add(1);

    // Rare events only: a tag list per call is fine there.
    private static TagList Tags(TopicName topic, string name) => new()
    {
        { "messaging.system", "sluice" },
        { "messaging.destination.name", topic.ToString() },
        { "messaging.destination.subscription.name", name },
    };
}
