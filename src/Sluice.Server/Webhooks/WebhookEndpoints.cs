using System.Text.RegularExpressions;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;
using Sluice.Server.Topics;

namespace Sluice.Server.Webhooks;

/// <summary>
/// Webhook registration: <c>POST/GET /v1/webhooks</c>, <c>GET/PUT/DELETE /v1/webhooks/{id}</c>,
/// <c>POST /v1/webhooks/{id}/pause|resume</c>, <c>GET /v1/webhooks/{id}/stats</c>.
/// </summary>
internal static partial class WebhookEndpoints
{
    private const int MaxBodyBytes = 64 * 1024;
    private const int MaxHeaders = 32;
    private const string Hidden = "(hidden)";

    // Headers the gateway sets itself, or that would confuse the HTTP exchange.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "host", "content-type", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "upgrade", "te", "trailer", "proxy-connection", "expect",
    };

    /// <summary>Below <paramref name="v1"/>: <c>/v1</c>, or a cluster's <c>/v1/clusters/{name}</c>.</summary>
    public static void Map(IEndpointRouteBuilder v1)
    {
        var group = v1.MapGroup("/webhooks").WithTags("webhooks");
        group.MapPost("", (Func<HttpContext, Task>)CreateAsync).WithName("CreateWebhook")
            .WithSummary("Register a webhook; the answer carries its id and, this once, its secret")
            .Accepts<WebhookRequest>("application/json").Produces<WebhookResponse>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("", (Func<HttpContext, Task>)ListAsync).WithName("ListWebhooks").WithSummary("Every webhook (secrets never shown)")
            .Produces<WebhookListResponse>();
        group.MapGet("/{id}", (Func<HttpContext, Task>)GetAsync).WithName("GetWebhook").WithSummary("One webhook (secret never shown)")
            .Produces<WebhookResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{id}", (Func<HttpContext, Task>)PutAsync).WithName("PutWebhook")
            .WithSummary("Create a webhook with this id, or replace its settings (an omitted secret keeps the current one)")
            .Accepts<WebhookRequest>("application/json").Produces<WebhookResponse>().Produces<WebhookResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapDelete("/{id}", (Func<HttpContext, Task>)DeleteAsync).WithName("DeleteWebhook")
            .WithSummary("Delete a webhook (and the subscription it created)").Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/pause", (Func<HttpContext, Task>)(c => SetPausedAsync(c, true))).WithName("PauseWebhook")
            .WithSummary("Stop calling the webhook; messages wait in the log").Produces<WebhookResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/resume", (Func<HttpContext, Task>)(c => SetPausedAsync(c, false))).WithName("ResumeWebhook")
            .WithSummary("Call the webhook again from where it stopped").Produces<WebhookResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id}/stats", (Func<HttpContext, Task>)StatsAsync).WithName("WebhookStats")
            .WithSummary("Delivered, failed, retried and dead-lettered counts since start, in flight, backlog, breaker state, last error")
            .Produces<WebhookStatsResponse>().ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task CreateAsync(HttpContext context)
    {
        var request = await ReadAsync(context);
        var id = Guid.NewGuid().ToString("N")[..16];
        var (stored, secret) = await StoreAsync(context, id, request, previous: null);
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = context.Request.Path.Value!.TrimEnd('/') + "/" + id;
        Write(context, ToResponse(stored, secret));
    }

    private static async Task PutAsync(HttpContext context)
    {
        var id = Id(context);
        var request = await ReadAsync(context);
        var previous = (await SyncedAsync(context)).Get(id);
        if (previous is not null && !Access.Can(context, previous.Topic, Permission.Admin))
        {
            // Ids are global: this says only that the id is taken, never by whom or for what.
            ProblemException.Throw(ProblemKind.Forbidden, $"webhook id '{id}' is taken by a webhook this token may not administer; choose another id");
        }

        var (stored, secret) = await StoreAsync(context, id, request, previous);
        context.Response.StatusCode = previous is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        Write(context, ToResponse(stored, secret));
    }

    private static async Task ListAsync(HttpContext context)
        => await context.Response.WriteAsJsonAsync(
            new WebhookListResponse([.. (await SyncedAsync(context)).List().Where(w => Access.Can(context, w.Topic, Permission.Admin)).Select(w => ToResponse(w, null))]),
            SluiceJsonContext.Api.WebhookListResponse);

    private static async Task GetAsync(HttpContext context)
    {
        var id = Id(context);
        var webhook = await FindAsync(context, id);
        Write(context, ToResponse(webhook, null));
    }

    private static async Task DeleteAsync(HttpContext context)
    {
        var id = Id(context);
        _ = await FindAsync(context, id);
        if (!await Service(context).DeleteAsync(id, context.RequestAborted))
        {
            throw NotFound(id);
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task SetPausedAsync(HttpContext context, bool paused)
    {
        var id = Id(context);
        _ = await FindAsync(context, id);
        var webhook = await Service(context).SetPausedAsync(id, paused, context.RequestAborted) ?? throw NotFound(id);
        Write(context, ToResponse(webhook, null));
    }

    private static async Task StatsAsync(HttpContext context)
    {
        var id = Id(context);
        var service = Service(context);
        var webhook = await FindAsync(context, id);
        var stats = service.GetStats(id) ?? throw NotFound(id);
        var subscription = await context.RequestServices.GetRequiredService<ISubscriptionService>().GetAsync(webhook.Topic, webhook.Subscription, context.RequestAborted);
        var b = stats.Breaker;
        JsonAnswer.Write(
            context.Response,
            new WebhookStatsResponse(stats.Id, stats.Paused, stats.Delivered, stats.Failed, stats.Retried, stats.DeadLettered, stats.InFlight,
                subscription?.Backlog, subscription?.FilteredOut ?? 0, new WebhookBreakerResponse(b.State, b.ConsecutiveFailures, b.OpenedAt, b.NextProbeAt),
                stats.LastError, stats.LastErrorAt, stats.LastSuccessAt),
            SluiceJsonContext.Api.WebhookStatsResponse);
    }

    // In a fleet, first apply what other instances changed, so a webhook made through one is seen through another.
    private static async ValueTask<IWebhookService> SyncedAsync(HttpContext context)
    {
        var service = Service(context);
        await service.SyncAsync(context.RequestAborted);
        return service;
    }

    private static async Task<(WebhookDefinition Stored, string? NewSecret)> StoreAsync(HttpContext context, string id, WebhookRequest request, WebhookDefinition? previous)
    {
        var services = context.RequestServices;
        var topic = TopicName.Parse(Required(request.Topic, "topic"));
        if (topic.IsInternal)
        {
            ProblemException.Throw(ProblemKind.InvalidName, $"topic '{topic}' is internal; webhooks deliver client topics");
        }

        // Checked before anything is looked up or stored: the webhook's tenant is its topic's, and it needs admin there.
        Access.Require(context, topic, Permission.Admin);
        var subscription = request.Subscription ?? IWebhookService.DefaultSubscription(id);
        TopicName.ThrowIfInvalidPart(subscription, "subscription");

        var urlText = Required(request.Url, "url");
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url))
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"url '{ProblemWriter.Printable(urlText, 200)}' is not an absolute URL");
        }

        if (await services.GetRequiredService<SsrfGuard>().CheckUrlAsync(url, context.RequestAborted) is { } refused)
        {
            ProblemException.Throw(ProblemKind.WebhookUrlRefused, refused);
        }

        var headers = CheckHeaders(request.Headers);
        string? newSecret = null;
        string secret;
        if (request.Secret is { } given)
        {
            if (WebhookSigner.Validate(given) is { } bad)
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, bad);
            }

            secret = given;
        }
        else if (previous is not null)
        {
            secret = previous.Secret;
        }
        else
        {
            secret = newSecret = WebhookSigner.NewSecret();
        }

        var defaults = new WebhookRetryPolicy();
        var retry = request.Retry;
        var webhook = new WebhookDefinition
        {
            Id = id,
            Topic = topic,
            Subscription = subscription,
            Url = url,
            Headers = headers,
            Secret = secret,
            Timeout = request.TimeoutMs is { } t ? TimeSpan.FromMilliseconds(t) : TimeSpan.FromSeconds(10),
            Concurrency = request.Concurrency ?? 1,
            Ordering = request.Ordering switch
            {
                null or "none" => WebhookOrdering.None,
                "per_key" => WebhookOrdering.PerKey,
                var other => throw new ProblemException(ProblemKind.InvalidParameter, $"ordering must be none or per_key; got '{ProblemWriter.Printable(other, 50)}'"),
            },
            Retry = new WebhookRetryPolicy
            {
                InitialInterval = Ms(retry?.InitialIntervalMs, defaults.InitialInterval, "retry.initialIntervalMs"),
                MaxInterval = Ms(retry?.MaxIntervalMs, defaults.MaxInterval, "retry.maxIntervalMs"),
                MaxAttempts = retry?.MaxAttempts ?? defaults.MaxAttempts,
                MaxAge = Ms(retry?.MaxAgeMs, defaults.MaxAge, "retry.maxAgeMs"),
            },
            DeadLetterTopic = request.DeadLetterTopic is { } dlq ? DeadLetterTopic(context, dlq) : null,
            Filter = request.Filter is { } filter ? Subscriptions.SubscriptionEndpoints.ParseFilter(filter) : null,
            Paused = previous?.Paused ?? false,
            CreatedAt = previous?.CreatedAt ?? services.GetRequiredService<TimeProvider>().GetUtcNow(),
        };
        if (webhook.Validate() is { } reason)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, reason);
        }

        if (previous is null)
        {
            services.GetRequiredService<TenantQuotas>().CheckWebhook(topic);
        }

        // The subscription needs its topic; created here like on a first produce (404 when topics:autoCreate is off).
        await services.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        var stored = await Service(context).PutAsync(webhook, context.RequestAborted);
        return (stored, newSecret);
    }

    /// <summary>Extra request headers a registration may set (also used by the compatibility APIs' webhooks).</summary>
    internal static Dictionary<string, string> CheckHeaders(Dictionary<string, string>? headers)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (headers is null)
        {
            return result;
        }

        if (headers.Count > MaxHeaders)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"headers may hold at most {MaxHeaders} entries; got {headers.Count}");
        }

        foreach (var (name, value) in headers)
        {
            if (!HeaderName().IsMatch(name))
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, $"header name '{ProblemWriter.Printable(name, 100)}' is not a valid HTTP header name");
            }

            if (ReservedHeaders.Contains(name) || name.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("sluice-", StringComparison.OrdinalIgnoreCase))
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, $"header '{name}' is set by the gateway and cannot be configured");
            }

            if (value is null || value.Length > 8192 || value.Any(c => char.IsControl(c) && c != '\t'))
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, $"header '{name}' needs a value of at most 8192 characters without control characters");
            }

            result[name] = value;
        }

        return result;
    }

    private static TimeSpan Ms(long? value, TimeSpan fallback, string what)
    {
        if (value is not { } ms)
        {
            return fallback;
        }

        if (ms is < 0 or > 365L * 24 * 60 * 60 * 1000)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"{what} must be between 0 and 31536000000; got {ms}");
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    private static string Required(string? value, string what)
        => string.IsNullOrEmpty(value) ? throw new ProblemException(ProblemKind.InvalidParameter, $"{what} is required") : value;

    private static async Task<WebhookRequest> ReadAsync(HttpContext context)
        => await HttpRequestReader.ReadJsonAsync(context, SluiceJsonContext.Api.WebhookRequest, MaxBodyBytes)
            ?? throw new ProblemException(ProblemKind.InvalidParameter, "a webhook needs a JSON body with at least topic and url");

    private static string Id(HttpContext context)
    {
        var id = context.Request.RouteValues["id"] as string ?? "";
        if (!IdPattern().IsMatch(id))
        {
            ProblemException.Throw(ProblemKind.InvalidName, $"webhook id '{ProblemWriter.Printable(id, 100)}' must be 1 to 64 letters, digits, '-' or '_'");
        }

        return id;
    }

    /// <summary>
    /// The webhook, if the caller may administer it. A caller that is not a superuser gets the same 403 for an id that
    /// does not exist and for one of another tenant, so ids reveal nothing; superusers get 404 for a missing id.
    /// </summary>
    private static async ValueTask<WebhookDefinition> FindAsync(HttpContext context, string id)
    {
        var webhook = (await SyncedAsync(context)).Get(id);
        if (webhook is not null && Access.Can(context, webhook.Topic, Permission.Admin))
        {
            return webhook;
        }

        if (webhook is null && Access.IsSuperuser(context))
        {
            throw NotFound(id);
        }

        throw new ProblemException(ProblemKind.Forbidden, $"webhook '{id}' does not exist or belongs to a namespace this token may not administer");
    }

    private static TopicName DeadLetterTopic(HttpContext context, string value)
    {
        var topic = TopicName.Parse(value);

        // Dead letters are produced to it: the caller must be allowed to produce there itself.
        Access.Require(context, topic, Permission.Produce);
        return topic;
    }

    private static IWebhookService Service(HttpContext context) => context.RequestServices.GetRequiredService<IWebhookService>();

    private static ProblemException NotFound(string id) => new(ProblemKind.WebhookNotFound, $"webhook '{id}' does not exist");

    private static void Write(HttpContext context, WebhookResponse response)
        => JsonAnswer.Write(context.Response, response, SluiceJsonContext.Api.WebhookResponse);

    private static WebhookResponse ToResponse(WebhookDefinition w, string? newSecret) => new(
        w.Id,
        w.Topic.ToString(),
        w.Subscription,
        w.Url.OriginalString,
        w.Headers.ToDictionary(h => h.Key, _ => Hidden, StringComparer.OrdinalIgnoreCase),
        newSecret,
        true,
        WebhookSigner.Hint(w.Secret),
        (long)w.Timeout.TotalMilliseconds,
        w.Concurrency,
        w.Ordering == WebhookOrdering.PerKey ? "per_key" : "none",
        new WebhookRetryResponse((long)w.Retry.InitialInterval.TotalMilliseconds, (long)w.Retry.MaxInterval.TotalMilliseconds, w.Retry.MaxAttempts, (long)w.Retry.MaxAge.TotalMilliseconds),
        (w.DeadLetterTopic ?? IWebhookService.DefaultDeadLetterTopic(w.Topic)).ToString(),
        w.Paused,
        w.CreatedAt,
        w.Filter?.Text);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();

    // RFC 9110 token.
    [GeneratedRegex("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")]
    private static partial Regex HeaderName();
}
