using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// The engine's own instruments on the <c>Sluice.Core</c> meter, untagged where a pull that parks or wakes would
/// otherwise allocate a tag list (only the rare corrupt-skip count is tagged). Per-subscription message counts are not here: each subscription keeps plain counters
/// (<see cref="SubscriptionCounters"/>) that the server exports as observable instruments, read at collection time.
/// </summary>
internal static class DeliveryMetrics
{
    public const string MeterName = "Sluice.Core";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> CursorAppends = Meter.CreateCounter<long>(
        "sluice.subscription.cursor_appends", "{append}", "Appends to the cursor state topic (acks share them)");

    private static readonly Counter<long> Wakeups = Meter.CreateCounter<long>(
        "sluice.subscription.receiver_wakeups", "{wakeup}", "Waiting receives woken by a change (shared and exclusive: one per change, not one per waiting connection)");

    private static readonly Counter<long> CorruptSkipped = Meter.CreateCounter<long>(
        "sluice.subscription.corrupt_skipped", "{message}", "Offsets skipped because the log reported their records damaged");

    private static readonly UpDownCounter<long> Waiting = Meter.CreateUpDownCounter<long>(
        "sluice.subscription.waiting_receivers", "{receive}", "Receives waiting for messages");

    public static void OnWoken() => Wakeups.Add(1);

    public static void OnWaiting(int delta) => Waiting.Add(delta);

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
