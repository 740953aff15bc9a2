using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Sluice.Core.Subscriptions;
using Sluice.Server.Hosting;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// <c>GET /v1/msgs/:appid/:topic/:ver?group=&amp;batch=&amp;reset=&amp;ack=1&amp;q=</c>: kateway's long poll. Waits up to
/// <c>kateway:subTimeoutMs</c> (30 s) for a message, then 204.
/// <code>
///   batch=1 (default) ──► the body is the message; X-Key, X-Partition, X-Offset headers
///   batch=N           ──► application/octet-stream, per message: partition int32, offset int64, length int32, value (big-endian)
///   ack=1             ──► X-Partition/X-Offset of the last message processed (-1/-1 for none) ack it and what came before it
///                         in its answer; this answer stays unacked until a later request (or PUT /v1/offsets) acks it
///   no ack=1          ──► acked once the answer is written (kateway committed as it wrote: at most once there)
///   client gone before the answer is written ──► released at once, never lost
/// </code>
/// </summary>
internal static class KatewaySub
{
    /// <summary>kateway's <c>maxbatch</c>.</summary>
    public const int MaxBatch = 4000;

    /// <summary>One consumer id for every pull of a group: a kateway client has no identity of its own.</summary>
    public const string ConsumerId = "kateway";

    public static async Task SubscribeAsync(HttpContext context, KatewayServices kateway)
    {
        var query = context.Request.Query;
        var group = KatewayGroup.Parse(context, kateway, query["group"]);
        var batch = Batch(query["batch"]);
        var explicitAck = query["ack"] == "1";
        var acked = explicitAck ? KatewayNames.Position(context, "partial ack not allowed", "ack with bad", signed: true) : null;

        var settings = await group.EnsureAsync(context, kateway, context.RequestAborted);
        if (acked is var (partition, offset) && partition >= 0 && offset >= 0)
        {
            await AckUpToAsync(kateway, group, partition, offset, context.RequestAborted);
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, kateway.Stopping);
        IReadOnlyList<Delivery> deliveries;
        await using var consumer = await kateway.Subscriptions.OpenConsumerAsync(group.Topic, group.Subscription, ConsumerId, context.RequestAborted);
        try
        {
            deliveries = await consumer.ReceiveAsync(batch, TimeSpan.FromMilliseconds(kateway.Options.KatewaySubTimeoutMs), linked.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // Shutdown, or the group was deleted or sought: nothing came.
            deliveries = [];
        }

        if (deliveries.Count == 0)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        try
        {
            await WriteAsync(context, deliveries, batch);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException || context.RequestAborted.IsCancellationRequested)
        {
            await KatewayAcks.ReleaseAsync(kateway, group, deliveries);
            throw new OperationCanceledException("the client went away before the answer was written", ex, context.RequestAborted);
        }

        if (explicitAck)
        {
            kateway.Ledger.Record(group.Topic, group.Subscription, deliveries, settings.AckDeadline);
        }
        else
        {
            // Written: delivered. Applied now; durable with the next cursor write (within 200 ms).
            _ = await consumer.AckAsync(deliveries, waitDurable: false, CancellationToken.None);
        }
    }

    /// <summary>Acks (partition, offset) and what came before it in its answer, and waits until that is durable.</summary>
    internal static async ValueTask AckUpToAsync(KatewayServices kateway, KatewayGroup group, int partition, long offset, CancellationToken cancellationToken)
    {
        await AckPositionsAsync(kateway, group, kateway.Ledger.TakeUpTo(group.Topic, group.Subscription, partition, offset), cancellationToken);
    }

    /// <summary>Acks by position, durably; positions not outstanding and a group deleted meanwhile are no error.</summary>
    internal static async ValueTask AckPositionsAsync(KatewayServices kateway, KatewayGroup group, IReadOnlyList<MessagePosition> positions, CancellationToken cancellationToken)
    {
        try
        {
            // A position that is not outstanding (acked already, say) is no error: kateway ignored such commits too.
            await kateway.Subscriptions.AckPositionsAsync(group.Topic, group.Subscription, positions, cancellationToken);
        }
        catch (SubscriptionNotFoundException)
        {
            // The group was deleted meanwhile: nothing to ack.
        }
    }

    private static async Task WriteAsync(HttpContext context, IReadOnlyList<Delivery> deliveries, int batch)
    {
        var response = context.Response;
        if (batch == 1)
        {
            var delivery = deliveries[0];
            var record = delivery.Record;
            // kateway wrote "charset=utf8", a label some HTTP clients (.NET's) refuse: the standard name says the same.
            response.ContentType = "text/plain; charset=utf-8";
            response.Headers["X-Key"] = record.Key is { } key ? Encoding.UTF8.GetString(key.Span) : "";
            response.Headers["X-Partition"] = delivery.Partition.ToString(CultureInfo.InvariantCulture);
            response.Headers["X-Offset"] = record.Offset.ToString(CultureInfo.InvariantCulture);
            var value = record.Value ?? ReadOnlyMemory<byte>.Empty;
            response.ContentLength = value.Length;
            await response.Body.WriteAsync(value, context.RequestAborted);
        }
        else
        {
            response.ContentType = "application/octet-stream";
            var writer = response.BodyWriter;
            foreach (var delivery in deliveries)
            {
                var value = delivery.Record.Value is { } v ? v.Span : default;
                var header = writer.GetSpan(16);
                BinaryPrimitives.WriteInt32BigEndian(header, delivery.Partition);
                BinaryPrimitives.WriteInt64BigEndian(header[4..], delivery.Record.Offset);
                BinaryPrimitives.WriteInt32BigEndian(header[12..], value.Length);
                writer.Advance(16);
                writer.Write(value);
                if (writer.UnflushedBytes >= ResponseFlush.ThresholdBytes)
                {
                    // Kestrel's response buffer is 64 KiB: a large batch goes out as it is written.
                    await writer.FlushAsync(context.RequestAborted);
                }
            }
        }

        await response.CompleteAsync();
    }

    /// <summary><c>batch</c>: 1 by default, at most kateway's 4000; not an integer is 400 "illegal batch".</summary>
    private static int Batch(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return 1;
        }

        if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var batch))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "illegal batch");
        }

        return Math.Clamp(batch, 1, MaxBatch);
    }
}
