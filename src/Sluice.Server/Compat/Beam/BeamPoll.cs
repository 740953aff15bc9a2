using System.Globalization;
using System.Text.Json;
using Sluice.Core.Subscriptions;
using Sluice.Server.Hosting;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// <c>GET /v2/poll/{persistent}/{tenant}/{namespace}/{topic}</c>: up to <c>batchSize</c> (10) messages, each waited for at
/// most <c>perMessageTimeoutMs</c> (300): <c>200 {"limit","size","messages":[{"payload" (base64),"topic","eventTime",
/// "publishTime","messageId","key"}]}</c>, or 204 when none came. A subscription a poll creates starts at the earliest
/// message, as Beam's did.
/// <code>
///   receive ──► wait ≤ perMessageTimeoutMs for more, until batchSize ──► answer written and flushed ──► acked
///                                                                   └─► client gone first ──► released at once
/// </code>
/// Beam acked each message as it took it from Pulsar, before answering, so a client that went away lost them.
/// </summary>
internal static class BeamPoll
{
    /// <summary>A bound on one answer (Beam had none): 1000 messages, and waits of at most a minute per message.</summary>
    private const int MaxBatchSize = 1000;
    private const int MaxPerMessageTimeoutMs = 60_000;

    public static async Task PollAsync(HttpContext context, BeamServices beam)
    {
        var request = await BeamConsumerRequest.ParseAsync(context, beam, StartPosition.Earliest);
        var size = Math.Min(QueryInt(context, "batchSize", 10), MaxBatchSize);
        var perMessage = TimeSpan.FromMilliseconds(Math.Clamp(QueryInt(context, "perMessageTimeoutMs", 300), 0, MaxPerMessageTimeoutMs));
        try
        {
            if (size <= 0)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            await request.EnsureAsync(beam, context.RequestAborted);
            await using var consumer = await beam.Subscriptions.OpenConsumerAsync(request.Topic, request.Subscription, request.ConsumerId, context.RequestAborted);
            var deliveries = await ReceiveAsync(context, beam, request, consumer, size, perMessage);
            if (deliveries.Count == 0)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            await AnswerAsync(context, beam, request, consumer, deliveries, size);
        }
        finally
        {
            await request.EndAsync(beam);
        }
    }

    private static async ValueTask<List<Delivery>> ReceiveAsync(HttpContext context, BeamServices beam, BeamConsumerRequest request, ISubscriptionConsumer consumer, int size, TimeSpan perMessage)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, beam.Stopping);
        var deliveries = new List<Delivery>();
        try
        {
            while (deliveries.Count < size)
            {
                var got = await consumer.ReceiveAsync(size - deliveries.Count, perMessage, linked.Token);
                if (got.Count == 0)
                {
                    break;
                }

                deliveries.AddRange(got);
            }
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // Shutdown, or the consumer was ended: answer with what came.
        }
        catch (OperationCanceledException)
        {
            // The client left while waiting: what it was given goes back at once.
            await ReleaseAsync(beam, request, deliveries);
            throw;
        }

        return deliveries;
    }

    private static async ValueTask AnswerAsync(HttpContext context, BeamServices beam, BeamConsumerRequest request, ISubscriptionConsumer consumer, List<Delivery> deliveries, int size)
    {
        context.Response.ContentType = "application/json; charset=UTF-8";
        try
        {
            var writer = context.Response.BodyWriter;
            long flushed = 0;
            using (var json = new Utf8JsonWriter(writer))
            {
                json.WriteStartObject();
                json.WriteNumber("limit", size);
                json.WriteNumber("size", deliveries.Count);
                json.WriteStartArray("messages");
                var topic = request.FullName;
                foreach (var delivery in deliveries)
                {
                    var record = delivery.Record;
                    json.WriteStartObject();
                    json.WriteBase64String("payload", record.Value is { } value ? value.Span : default);
                    json.WriteString("topic", topic);

                    // Sluice keeps one time per message; Beam set the event time to the publish time.
                    json.WriteString("eventTime", record.Timestamp);
                    json.WriteString("publishTime", record.Timestamp);
                    json.WriteString("messageId", delivery.MessageId);
                    json.WriteString("key", record.Key is { } key ? System.Text.Encoding.UTF8.GetString(key.Span) : "");
                    json.WriteEndObject();
                    if (json.BytesPending + json.BytesCommitted - flushed >= ResponseFlush.ThresholdBytes)
                    {
                        // Large answers go out as they are written: the response holds at most about this much.
                        json.Flush();
                        flushed = json.BytesCommitted;
                        await writer.FlushAsync(context.RequestAborted);
                    }
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            await context.Response.CompleteAsync();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException || context.RequestAborted.IsCancellationRequested)
        {
            await ReleaseAsync(beam, request, deliveries);
            throw new OperationCanceledException("the client went away before the answer was written", ex, context.RequestAborted);
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            await ReleaseAsync(beam, request, deliveries);
            return;
        }

        // The answer is written: delivered. Applied now; durable with the next cursor write (within 200 ms).
        _ = await consumer.AckAsync(deliveries, waitDurable: false, CancellationToken.None);
    }

    private static async ValueTask ReleaseAsync(BeamServices beam, BeamConsumerRequest request, List<Delivery> deliveries)
    {
        if (deliveries.Count == 0)
        {
            return;
        }

        try
        {
            await beam.Subscriptions.NackAsync(request.Topic, request.Subscription, [.. deliveries.Select(d => d.AckId)], TimeSpan.Zero, CancellationToken.None);
        }
        catch (Exception ex) when (ex is SubscriptionNotFoundException or ObjectDisposedException or OperationCanceledException)
        {
            // Deleted subscription or engine shutting down: nothing left to release.
        }
    }

    /// <summary>Beam's <c>QueryParamInt</c>: a value that is not an integer means the default.</summary>
    private static int QueryInt(HttpContext context, string name, int fallback)
        => context.Request.Query.TryGetValue(name, out var raw) && int.TryParse(raw[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
