using Sluice.Core.Delay;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;

namespace Sluice.Server.Delay;

/// <summary>
/// Delayed messages of a topic: <c>GET .../delayed</c> lists what is pending (operations), <c>DELETE .../delayed/{id}</c>
/// cancels one. Producing them is the produce routes' (a delivery time on a message).
/// </summary>
internal static class DelayEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 1000;

    public static void Map(IEndpointRouteBuilder topics)
    {
        topics.MapGet("/{tenant}/{namespace}/{topic}/delayed", (Func<HttpContext, Task>)ListAsync)
            .WithName("ListDelayed")
            .WithSummary("Pending delayed messages in delivery order, paged (?limit=, ?after= the previous page's next), with their count")
            .WithMetadata(AccessRule.Namespace(Permission.Produce))
            .Produces<DelayedListResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapDelete("/{tenant}/{namespace}/{topic}/delayed/{id}", (Func<HttpContext, Task>)CancelAsync)
            .WithName("CancelDelayed")
            .WithSummary("Cancel a delayed message that is not yet due: 204; already delivered, cancelled or unknown: 409")
            .WithMetadata(AccessRule.Namespace(Permission.Produce))
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task ListAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var limit = HttpRequestReader.QueryInt(context, "limit", 1, MaxLimit) ?? DefaultLimit;
        var after = context.Request.Query.TryGetValue("after", out var a) ? a.ToString() : null;
        var page = await context.RequestServices.GetRequiredService<IDelayService>().ListAsync(topic, after, limit, context.RequestAborted);
        var messages = new List<DelayedMessageResponse>(page.Entries.Count);
        foreach (var e in page.Entries)
        {
            messages.Add(new DelayedMessageResponse(e.Id, e.Partition, e.DeliverAt));
        }

        JsonAnswer.Write(context.Response, new DelayedListResponse(page.Count, messages, page.Next, page.Partitions, page.IndexBytes), SluiceJsonContext.Api.DelayedListResponse);
    }

    private static async Task CancelAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var id = (string?)context.Request.RouteValues["id"] ?? "";

        // Once the cancel is requested it is durable: finish waiting for the decision even if the client leaves.
        var outcome = await context.RequestServices.GetRequiredService<IDelayService>().CancelAsync(topic, id, CancellationToken.None);
        if (outcome == CancelOutcome.NotCancellable)
        {
            ProblemException.Throw(ProblemKind.NotCancellable,
                $"delayed message '{ProblemWriter.Printable(id, 80)}' of '{topic}' is not pending: already delivered, already cancelled, or unknown");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }
}
