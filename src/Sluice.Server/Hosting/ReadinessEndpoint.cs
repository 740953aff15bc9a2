using Sluice.Core.Log;
using Sluice.Server.Configuration;
using Sluice.Server.Security;

namespace Sluice.Server.Hosting;

/// <summary>
/// <c>GET /readyz</c>: 200 <c>ready</c> once the log is open and the engine started, 503 before and from the start of
/// shutdown. A ready server whose storage needs attention (damaged records, a full disk) stays ready (it serves everything
/// else) and lists the problems. The route is public: with authentication on, the list names no topic, only how many
/// partitions have each kind of problem (the topics' own status shows which).
/// </summary>
internal static class ReadinessEndpoint
{
    // A long list helps nobody and costs every probe: the count says how many more there are.
    private const int MaxListed = 20;

    public static void Map(IEndpointRouteBuilder app, ServerOptions options)
    {
        app.MapGet("/readyz", async (Readiness readiness, IMessageLog log, CancellationToken cancellationToken) =>
            {
                if (!readiness.IsReady)
                {
                    return Results.Json(new HealthResponse("not ready"), SluiceJsonContext.Api.HealthResponse, statusCode: StatusCodes.Status503ServiceUnavailable);
                }

                var problems = await log.GetProblemsAsync(cancellationToken);
                return Results.Json(new HealthResponse("ready", Problems: Describe(problems, options.AuthMode == AuthMode.None)), SluiceJsonContext.Api.HealthResponse);
            })
            .WithName("Ready")
            .WithSummary("200 once the log is open and the engine started (problems: partitions with damaged records or no space left); 503 before, and from the start of shutdown")
            .WithMetadata(AccessRule.Public);
    }

    private static List<StorageProblemResponse>? Describe(IReadOnlyList<LogProblem> problems, bool named)
    {
        if (problems.Count == 0)
        {
            return null;
        }

        if (!named)
        {
            return [.. problems.GroupBy(p => p.Kind).Select(g => new StorageProblemResponse(g.Key, null, null, $"{g.Count()} partition(s); see the topics' status"))];
        }

        var listed = problems.Take(MaxListed).Select(p => new StorageProblemResponse(p.Kind, p.Topic.ToString(), p.Partition, p.Detail)).ToList();
        if (problems.Count > MaxListed)
        {
            listed.Add(new StorageProblemResponse("more", null, null, $"{problems.Count - MaxListed} more partition problem(s) not listed"));
        }

        return listed;
    }
}
