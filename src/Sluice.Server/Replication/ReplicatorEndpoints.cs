using System.Text.Json;
using Sluice.Core.Replication;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;

namespace Sluice.Server.Replication;

/// <summary>
/// Replicator admin: <c>POST/GET /v1/replicators</c>, <c>GET/PUT/DELETE /v1/replicators/{name}</c>,
/// <c>POST .../{name}/start|stop|restart|seek</c>, <c>GET .../{name}/status</c>. Every route needs <c>admin</c> on the
/// replicator's source namespace (checked here: the namespace is in the body or the stored registration).
/// </summary>
internal static class ReplicatorEndpoints
{
    private const int MaxBodyBytes = 256 * 1024;

    /// <summary>Below <paramref name="v1"/>: <c>/v1</c>, or a cluster's <c>/v1/clusters/{name}</c>.</summary>
    public static void Map(IEndpointRouteBuilder v1)
    {
        var group = v1.MapGroup("/replicators").WithTags("replicators");
        group.MapPost("", (Func<HttpContext, Task>)CreateAsync).WithName("CreateReplicator")
            .WithSummary("Register a replicator (name in the body) and start it")
            .Accepts<JsonElement>("application/json").Produces<ReplicatorResponse>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("", (Func<HttpContext, Task>)ListAsync).WithName("ListReplicators").WithSummary("Every replicator the caller may administer (secrets never shown)")
            .Produces<ReplicatorListResponse>();
        group.MapGet("/{name}", (Func<HttpContext, Task>)GetAsync).WithName("GetReplicator").WithSummary("One replicator (secret values never shown)")
            .Produces<ReplicatorResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{name}", (Func<HttpContext, Task>)PutAsync).WithName("PutReplicator")
            .WithSummary("Create a replicator with this name, or replace its settings (omitted secrets keep the current ones)")
            .Accepts<JsonElement>("application/json").Produces<ReplicatorResponse>().Produces<ReplicatorResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapDelete("/{name}", (Func<HttpContext, Task>)DeleteAsync).WithName("DeleteReplicator")
            .WithSummary("Stop and delete a replicator and its subscriptions").Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{name}/start", (Func<HttpContext, Task>)(c => SetStoppedAsync(c, false))).WithName("StartReplicator")
            .WithSummary("Start a stopped replicator where it stopped (persisted)").Produces<ReplicatorResponse>();
        group.MapPost("/{name}/stop", (Func<HttpContext, Task>)(c => SetStoppedAsync(c, true))).WithName("StopReplicator")
            .WithSummary("Stop a replicator; it keeps its position (persisted)").Produces<ReplicatorResponse>();
        group.MapPost("/{name}/restart", (Func<HttpContext, Task>)RestartAsync).WithName("RestartReplicator")
            .WithSummary("Stop and start the replicator's workers and sink").Produces<ReplicatorResponse>();
        group.MapGet("/{name}/status", (Func<HttpContext, Task>)StatusAsync).WithName("ReplicatorStatus")
            .WithSummary("State, per-partition position, end offset and lag, records and bytes written, last error, restarts")
            .Produces<ReplicatorStatus>();
        group.MapPost("/{name}/seek", (Func<HttpContext, Task>)SeekAsync).WithName("SeekReplicator")
            .WithSummary("Move a stopped replicator: earliest, latest, a time, or offsets").Accepts<JsonElement>("application/json")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task CreateAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        var service = await SyncedAsync(context);
        var replicator = ReplicatorRequestReader.Read(body.RootElement, null, null, Now(context));
        Authorize(context, replicator);
        if (service.Get(replicator.Name) is { } existing)
        {
            if (!CanAdminister(context, existing))
            {
                ProblemException.Throw(ProblemKind.Forbidden, $"replicator name '{replicator.Name}' is taken by a replicator this token may not administer; choose another name");
            }

            ProblemException.Throw(ProblemKind.ReplicatorExists, $"replicator '{replicator.Name}' exists; change it with PUT /v1/replicators/{replicator.Name}");
        }

        var stored = await StoreAsync(context, replicator);
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = context.Request.Path.Value!.TrimEnd('/') + "/" + stored.Name;
        Write(context, ToResponse(stored));
    }

    private static async Task PutAsync(HttpContext context)
    {
        var name = Name(context);
        var body = await ReadAsync(context);
        var previous = (await SyncedAsync(context)).Get(name);
        if (previous is not null && !CanAdminister(context, previous))
        {
            ProblemException.Throw(ProblemKind.Forbidden, $"replicator name '{name}' is taken by a replicator this token may not administer; choose another name");
        }

        var replicator = ReplicatorRequestReader.Read(body.RootElement, name, previous, Now(context));
        Authorize(context, replicator);
        var stored = await StoreAsync(context, replicator);
        context.Response.StatusCode = previous is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        Write(context, ToResponse(stored));
    }

    private static async Task ListAsync(HttpContext context)
        => await context.Response.WriteAsJsonAsync(
            new ReplicatorListResponse([.. (await SyncedAsync(context)).List().Where(r => CanAdminister(context, r)).Select(ToResponse)]),
            ReplicatorJsonContext.Api.ReplicatorListResponse);

    private static async Task GetAsync(HttpContext context) => Write(context, ToResponse(await FindAsync(context, Name(context))));

    private static async Task DeleteAsync(HttpContext context)
    {
        var name = Name(context);
        _ = await FindAsync(context, name);
        if (!await Service(context).DeleteAsync(name, context.RequestAborted))
        {
            throw NotFound(name);
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task SetStoppedAsync(HttpContext context, bool stopped)
    {
        var name = Name(context);
        _ = await FindAsync(context, name);
        var replicator = await Service(context).SetStoppedAsync(name, stopped, context.RequestAborted) ?? throw NotFound(name);
        Write(context, ToResponse(replicator));
    }

    private static async Task RestartAsync(HttpContext context)
    {
        var name = Name(context);
        _ = await FindAsync(context, name);
        var replicator = await Service(context).RestartAsync(name, context.RequestAborted) ?? throw NotFound(name);
        Write(context, ToResponse(replicator));
    }

    private static async Task StatusAsync(HttpContext context)
    {
        var name = Name(context);
        _ = await FindAsync(context, name);
        var status = await Service(context).GetStatusAsync(name, context.RequestAborted) ?? throw NotFound(name);
        JsonAnswer.Write(context.Response, status, ReplicatorJsonContext.Api.ReplicatorStatus);
    }

    private static async Task SeekAsync(HttpContext context)
    {
        var name = Name(context);
        var replicator = await FindAsync(context, name);
        using var body = await ReadAsync(context);
        var seek = ReplicatorRequestReader.ReadSeek(body.RootElement, replicator.Source);
        try
        {
            if (!await Service(context).SeekAsync(name, seek, context.RequestAborted))
            {
                throw NotFound(name);
            }
        }
        catch (ReplicatorNotStoppedException ex)
        {
            ProblemException.Throw(ProblemKind.ReplicatorRunning, ex.Message);
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    // Checks the sink settings (secrets resolved, targets checked: the http sink's SSRF guard) before anything is stored.
    private static async Task<ReplicatorDefinition> StoreAsync(HttpContext context, ReplicatorDefinition replicator)
    {
        var services = context.RequestServices;
        var sinkContext = new SinkContext(replicator.Name, services, services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Replication"), services.GetRequiredService<TimeProvider>());
        try
        {
            await services.GetRequiredService<SinkCatalog>().PrepareAndCheckAsync(replicator, sinkContext, context.RequestAborted);
            return await Service(context).PutAsync(replicator, context.RequestAborted);
        }
        catch (SinkSettingsException ex)
        {
            // The catalog's messages are free of secret values already; scrubbed once more in case a sink quoted one.
            throw new ProblemException(ProblemKind.InvalidParameter, SecretReferences.Scrub(ex.Message, replicator.Secrets));
        }
    }

    // Admin on the source namespace; a dead-letter topic elsewhere also needs produce there.
    private static void Authorize(HttpContext context, ReplicatorDefinition replicator)
    {
        var source = replicator.Source;
        if (!Allows(context, source.Tenant, source.Namespace, Permission.Admin))
        {
            ProblemException.Throw(ProblemKind.Forbidden, Access.Denied(source.Tenant, source.Namespace, Permission.Admin));
        }

        var dlq = replicator.DeadLetterTopicFor(source.Topic ?? new TopicName(source.Tenant, source.Namespace, "t"));
        if ((dlq.Tenant != source.Tenant || dlq.Namespace != source.Namespace) && !Allows(context, dlq.Tenant, dlq.Namespace, Permission.Produce))
        {
            ProblemException.Throw(ProblemKind.Forbidden, "deadLetterTopic: " + Access.Denied(dlq.Tenant, dlq.Namespace, Permission.Produce));
        }
    }

    private static bool CanAdminister(HttpContext context, ReplicatorDefinition replicator)
        => Allows(context, replicator.Source.Tenant, replicator.Source.Namespace, Permission.Admin);

    private static bool Allows(HttpContext context, string tenant, string ns, Permission permission)
        => Caller.Of(context) is { } caller && context.RequestServices.GetRequiredService<AccessPolicy>().Allows(caller, tenant, ns, permission);

    /// <summary>The replicator if the caller may administer it; the same 403 for one that does not exist (superusers get 404).</summary>
    private static async ValueTask<ReplicatorDefinition> FindAsync(HttpContext context, string name)
    {
        var replicator = (await SyncedAsync(context)).Get(name);
        if (replicator is not null && CanAdminister(context, replicator))
        {
            return replicator;
        }

        if (replicator is null && Access.IsSuperuser(context))
        {
            throw NotFound(name);
        }

        throw new ProblemException(ProblemKind.Forbidden, $"replicator '{name}' does not exist or belongs to a namespace this token may not administer");
    }

    private static async ValueTask<IReplicatorService> SyncedAsync(HttpContext context)
    {
        var service = Service(context);
        await service.SyncAsync(context.RequestAborted);
        return service;
    }

    private static async ValueTask<JsonDocument> ReadAsync(HttpContext context)
    {
        var bytes = await HttpRequestReader.ReadBodyAsync(context, MaxBodyBytes, "the request body");
        if (bytes.Length == 0)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, "a replicator needs a JSON body with at least source and sink");
        }

        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new ProblemException(ProblemKind.MalformedJson, $"the request body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
        }
    }

    private static string Name(HttpContext context)
    {
        var name = context.Request.RouteValues["name"] as string ?? "";
        if (name.Length is 0 or > 200 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || name is "." or "..")
        {
            ProblemException.Throw(ProblemKind.InvalidName, $"replicator name '{ProblemWriter.Printable(name, 100)}' must be 1 to 200 letters, digits, '-', '_' or '.'");
        }

        return name;
    }

    private static DateTimeOffset Now(HttpContext context) => context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();

    private static IReplicatorService Service(HttpContext context) => context.RequestServices.GetRequiredService<IReplicatorService>();

    private static ProblemException NotFound(string name) => new(ProblemKind.ReplicatorNotFound, $"replicator '{name}' does not exist");

    private static void Write(HttpContext context, ReplicatorResponse response)
        => JsonAnswer.Write(context.Response, response, ReplicatorJsonContext.Api.ReplicatorResponse);

    private static ReplicatorResponse ToResponse(ReplicatorDefinition r)
    {
        using var sink = JsonDocument.Parse(r.SinkJson);
        return new ReplicatorResponse(
            r.Name,
            new ReplicatorSourceResponse(r.Source.ToString(), r.Position.Kind switch
            {
                StartPositionKind.Latest => "latest",
                StartPositionKind.Time => r.Position.Time!.Value.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                _ => "earliest",
            }, r.Filter?.Text),
            sink.RootElement.Clone(),
            [.. r.Secrets.Keys.Order(StringComparer.Ordinal)],
            new ReplicatorBatchResponse(r.Batch.MaxRecords, r.Batch.MaxBytes, (long)r.Batch.Linger.TotalMilliseconds),
            new ReplicatorRetryResponse((long)r.Retry.InitialInterval.TotalMilliseconds, (long)r.Retry.MaxInterval.TotalMilliseconds, r.Retry.MaxAttempts),
            r.DeadLetterTopic ?? ReplicatorDefinition.DefaultDeadLetterTemplate,
            r.Ordering == ReplicatorOrdering.None ? "none" : "partition",
            r.Stopped,
            r.CreatedAt);
    }
}
