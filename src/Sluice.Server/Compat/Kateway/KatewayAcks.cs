using System.Globalization;
using System.Text.Json;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Server.Hosting;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's explicit acks and its retry and dead queues:
/// <code>
///   PUT /v1/offsets/:appid/:topic/:ver/:group  [{"partition":0,"offset":41}, ...]  ──► each acks its answer up to it (durable) ──► {"ok":1}
///   PUT /v1/msgs/:appid/:topic/:ver?group=&amp;q=   X-Bury: retry|dead, X-Partition, X-Offset, body = the message
///       ──► the body is published to the group's retry (or dead) queue (durable) ──► the message is acked ──► {"ok":1}
///   GET /v1/msgs/...?q=retry|dead ──► read those queues like any topic (kateway could not)
/// </code>
/// </summary>
internal static class KatewayAcks
{
    private const int MaxAckBodyBytes = 1024 * 1024;

    public static async Task AckAsync(HttpContext context, KatewayServices kateway)
    {
        var group = KatewayGroup.Parse(context, kateway, context.Request.RouteValues["group"] as string);
        var body = await HttpRequestReader.ReadBodyAsync(context, MaxAckBodyBytes, "the acks");
        if (body.Length == 0)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "too small message");
        }

        List<AckOffset>? acks;
        try
        {
            acks = JsonSerializer.Deserialize(body, KatewayJsonContext.Default.ListAckOffset);
        }
        catch (JsonException)
        {
            throw new CompatException(StatusCodes.Status400BadRequest, "invalid ack json body");
        }

        foreach (var ack in acks ?? [])
        {
            if (ack is not null && ack.Partition >= 0 && ack.Offset >= 0)
            {
                await KatewaySub.AckUpToAsync(kateway, group, ack.Partition, ack.Offset, context.RequestAborted);
            }
        }

        KatewayPub.WriteOk(context.Response);
    }

    public static async Task BuryAsync(HttpContext context, KatewayServices kateway)
    {
        var headers = context.Request.Headers;
        var groupName = KatewayNames.Group(context.Request.Query["group"]);
        var bury = KatewayNames.Shadow(headers["X-Bury"], "illegal bury") ?? throw new CompatException(StatusCodes.Status400BadRequest, "illegal bury");
        var group = KatewayGroup.Parse(context, kateway, groupName);
        var (partition, offset) = KatewayNames.Position(context, "empty offset or partition", "bad", signed: false)
            ?? throw new CompatException(StatusCodes.Status400BadRequest, "empty offset or partition");
        var body = await HttpRequestReader.ReadBodyAsync(context, kateway.Options.MaxMessageBytes, "the message");

        // The queue belongs to the group on the topic itself, whichever queue the message was read from (q=retry, X-Bury: dead
        // moves it on from the retry queue to the dead one).
        var queue = KatewayNames.ShadowTopic(group.Origin, group.App, group.Group, bury);
        await kateway.Producer.AppendAsync(queue, new RecordToAppend(null, body), context.RequestAborted);

        // Then skip it where it came from, by position (one delivered without ack=1 was acked when it was written).
        await KatewaySub.AckPositionsAsync(kateway, group, [new MessagePosition(partition, offset)], context.RequestAborted);

        KatewayPub.WriteOk(context.Response);
    }

    /// <summary>Gives deliveries back for redelivery at once (an answer that never reached its client).</summary>
    public static async ValueTask ReleaseAsync(KatewayServices kateway, KatewayGroup group, IReadOnlyList<Delivery> deliveries)
    {
        try
        {
            await kateway.Subscriptions.NackAsync(group.Topic, group.Subscription, [.. deliveries.Select(d => d.AckId)], TimeSpan.Zero, CancellationToken.None);
        }
        catch (Exception ex) when (ex is SubscriptionNotFoundException or ObjectDisposedException or OperationCanceledException)
        {
            // Deleted subscription or engine shutting down: nothing left to release.
        }
    }
}
