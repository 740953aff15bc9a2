using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Counters of the delivery engine on the <c>Sluice.Core</c> meter. Consumed messages follow the OpenTelemetry
/// messaging convention (<c>messaging.client.consumed.messages</c>, attributes <c>messaging.system</c>,
/// <c>messaging.destination.name</c>, <c>messaging.destination.subscription.name</c>); the rest are Sluice's own.
/// </summary>
internal static class DeliveryMetrics
{
    public const string MeterName = "Sluice.Core";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Consumed = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Messages delivered to consumers, redeliveries included");

    private static readonly Counter<long> Redelivered = Meter.CreateCounter<long>(
        "sluice.subscription.redelivered", "{message}", "Deliveries with an attempt above 1");

    private static readonly Counter<long> Acked = Meter.CreateCounter<long>(
        "sluice.subscription.acked", "{message}", "Messages acked");

    private static readonly Counter<long> LeasesExpired = Meter.CreateCounter<long>(
        "sluice.subscription.lease_expired", "{message}", "Leases whose ack deadline passed");

    private static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>(
        "sluice.subscription.dead_lettered", "{message}", "Messages appended to a dead-letter topic");

    private static readonly Counter<long> FilteredOut = Meter.CreateCounter<long>(
        "sluice.subscription.filtered_out", "{message}", "Messages a subscription's filter did not match: acked without delivery");

    private static readonly Counter<long> CursorAppends = Meter.CreateCounter<long>(
        "sluice.subscription.cursor_appends", "{append}", "Appends to the cursor state topic (acks share them)");

    private static readonly Counter<long> Wakeups = Meter.CreateCounter<long>(
        "sluice.subscription.receiver_wakeups", "{wakeup}", "Waiting receives woken by a change (shared and exclusive: one per change, not one per waiting connection)");

    private static readonly Counter<long> CorruptSkipped = Meter.CreateCounter<long>(
        "sluice.subscription.corrupt_skipped", "{message}", "Offsets skipped because the log reported their records damaged");

    private static readonly UpDownCounter<long> Waiting = Meter.CreateUpDownCounter<long>(
        "sluice.subscription.waiting_receivers", "{receive}", "Receives waiting for messages");

    public static void OnDelivered(TopicName topic, string name, int count, int redelivered)
    {
        if (count > 0 && Consumed.Enabled)
        {
            Consumed.Add(count, Tags(topic, name));
        }

        if (redelivered > 0 && Redelivered.Enabled)
        {
            Redelivered.Add(redelivered, Tags(topic, name));
        }
    }

    public static void OnAcked(TopicName topic, string name, int count)
    {
        if (count > 0 && Acked.Enabled)
        {
            Acked.Add(count, Tags(topic, name));
        }
    }

    public static void OnLeasesExpired(TopicName topic, string name, int count)
    {
        if (count > 0 && LeasesExpired.Enabled)
        {
            LeasesExpired.Add(count, Tags(topic, name));
        }
    }

    public static void OnDeadLettered(TopicName topic, string name, int count)
    {
        if (count > 0 && DeadLettered.Enabled)
        {
            DeadLettered.Add(count, Tags(topic, name));
        }
    }

    public static void OnFilteredOut(TopicName topic, string name, int count)
    {
        if (count > 0 && FilteredOut.Enabled)
        {
            FilteredOut.Add(count, Tags(topic, name));
        }
    }

    public static void OnWoken(TopicName topic, string name)
    {
        if (Wakeups.Enabled)
        {
            Wakeups.Add(1, Tags(topic, name));
        }
    }

    public static void OnWaiting(TopicName topic, string name, int delta)
    {
        if (Waiting.Enabled)
        {
            Waiting.Add(delta, Tags(topic, name));
        }
    }

    public static void OnCorruptSkipped(TopicName topic, string name, long offsets)
    {
        if (offsets > 0 && CorruptSkipped.Enabled)
        {
            CorruptSkipped.Add(offsets, Tags(topic, name));
        }
    }

    public static void OnCursorAppend() => CursorAppends.Add(1);

    private static TagList Tags(TopicName topic, string name) => new()
    {
        { "messaging.system", "sluice" },
        { "messaging.destination.name", topic.ToString() },
        { "messaging.destination.subscription.name", name },
    };
}
