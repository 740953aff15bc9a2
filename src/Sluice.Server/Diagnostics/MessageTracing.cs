using System.Diagnostics;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Server.Diagnostics;

/// <summary>
/// Spans of the <c>Sluice</c> activity source, and the trace context a message carries from its produce to its
/// deliveries:
/// <code>
///   POST .../messages (traceparent: A)  ──► span "send T" (producer, child of A)   message header traceparent = send span
///   pull / SSE / WebSocket               ──► span "receive T" (consumer), linked to each message's send span
///   webhook call                         ──► span "process T" (consumer), child of the message's send span (the
///                                            receiver sees the producer's context as header Sluice-Header-traceparent)
/// </code>
/// Without a listener (no OTLP endpoint) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null
/// and nothing is added to messages: the hot paths pay one check.
/// </summary>
internal static class MessageTracing
{
    public const string SourceName = "Sluice";

    /// <summary>W3C trace context, as a message header: the send span that produced the message.</summary>
    public const string TraceParentHeader = "traceparent";

    public const string TraceStateHeader = "tracestate";

    private const string System = "sluice";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>A producer span for one produce request (one or many messages); null when nobody listens.</summary>
    public static Activity? StartSend(TopicName topic, int messages)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity("send " + topic, ActivityKind.Producer);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("messaging.system", System);
        activity.SetTag("messaging.operation.name", "send");
        activity.SetTag("messaging.operation.type", "send");
        activity.SetTag("messaging.destination.name", topic.ToString());
        if (messages > 1)
        {
            activity.SetTag("messaging.batch.message_count", messages);
        }

        return activity;
    }

    /// <summary>
    /// The record with the span's <c>traceparent</c> (and <c>tracestate</c>) added to its headers; unchanged without a
    /// span, or when the producer gave the message a trace context of its own (it wins: it names the real origin).
    /// </summary>
    public static RecordToAppend WithContext(RecordToAppend record, Activity? send)
    {
        if (send is null || Has(record.Headers, TraceParentHeader))
        {
            return record;
        }

        var count = (record.Headers?.Count ?? 0) + 2;
        var headers = new List<KeyValuePair<string, string>>(count);
        if (record.Headers is { } existing)
        {
            headers.AddRange(existing);
        }

        headers.Add(new(TraceParentHeader, send.Id!));
        if (send.TraceStateString is { Length: > 0 } state)
        {
            headers.Add(new(TraceStateHeader, state));
        }

        return record with { Headers = headers };
    }

    /// <summary>A consumer span for messages handed to a consumer, linked to each message's producer; ended at once.</summary>
    public static void Received(TopicName topic, string subscription, IReadOnlyList<Delivery> deliveries)
    {
        if (deliveries.Count == 0 || !Source.HasListeners())
        {
            return;
        }

        List<ActivityLink>? links = null;
        foreach (var delivery in deliveries)
        {
            if (ContextOf(delivery.Record) is { } context)
            {
                (links ??= []).Add(new ActivityLink(context));
            }
        }

        using var activity = Source.StartActivity(ActivityKind.Consumer, links: links, name: "receive " + topic);
        if (activity is not null)
        {
            Tag(activity, topic, subscription, "receive");
            activity.SetTag("messaging.batch.message_count", deliveries.Count);
        }
    }

    /// <summary>A consumer span around one push delivery (a webhook call), child of the message's producer span.</summary>
    public static Activity? StartProcess(TopicName topic, string subscription, StoredRecord record)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity("process " + topic, ActivityKind.Consumer, ContextOf(record) ?? default);
        if (activity is not null)
        {
            Tag(activity, topic, subscription, "process");
        }

        return activity;
    }

    private static void Tag(Activity activity, TopicName topic, string subscription, string operation)
    {
        activity.SetTag("messaging.system", System);
        activity.SetTag("messaging.operation.name", operation);
        activity.SetTag("messaging.operation.type", operation);
        activity.SetTag("messaging.destination.name", topic.ToString());
        activity.SetTag("messaging.destination.subscription.name", subscription);
    }

    private static ActivityContext? ContextOf(StoredRecord record)
    {
        string? parent = null;
        string? state = null;
        foreach (var (name, value) in record.Headers)
        {
            if (string.Equals(name, TraceParentHeader, StringComparison.OrdinalIgnoreCase))
            {
                parent = value;
            }
            else if (string.Equals(name, TraceStateHeader, StringComparison.OrdinalIgnoreCase))
            {
                state = value;
            }
        }

        return parent is not null && ActivityContext.TryParse(parent, state, isRemote: true, out var context) ? context : null;
    }

    private static bool Has(IReadOnlyList<KeyValuePair<string, string>>? headers, string name)
    {
        if (headers is null)
        {
            return false;
        }

        foreach (var header in headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
