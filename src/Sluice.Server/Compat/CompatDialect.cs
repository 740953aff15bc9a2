using Sluice.Server.Problems;

namespace Sluice.Server.Compat;

/// <summary>
/// How one ancestor answers errors: a JSON object with one message field (<c>{"error": ...}</c> for Pulsar Beam,
/// <c>{"errmsg": ...}</c> for kateway) and its own statuses for the errors Sluice's core and server raise.
/// <see cref="Wrap"/> puts every handler of that API behind it; the routes declare <see cref="Shape"/>, so the errors
/// written before or after a handler (a wrong method, a rate limit, an unexpected fault) have that shape too.
/// </summary>
internal sealed class CompatDialect(string field, Func<ProblemKind, int> status)
{
    /// <summary>The routes' error shape, declared as endpoint metadata: the server's shared errors (a rate limit, a wrong
    /// method, an unexpected fault) take it too, and the OpenAPI document says it.</summary>
    public ErrorShape Shape { get; } = ErrorShape.Field(field);

    /// <summary>Pulsar Beam: <c>{"error": ...}</c>; bad input is 422, as its handlers answer it.</summary>
    public static CompatDialect Beam { get; } = new("error", kind => kind switch
    {
        _ when kind == ProblemKind.InvalidName || kind == ProblemKind.MalformedJson || kind == ProblemKind.InvalidParameter
            || kind == ProblemKind.InvalidBase64 || kind == ProblemKind.InvalidFilter || kind == ProblemKind.WebhookUrlRefused
            || kind == ProblemKind.OffsetOutOfRange => StatusCodes.Status422UnprocessableEntity,
        _ => kind.Status,
    });

    /// <summary>kateway: <c>{"errmsg": ...}</c>; 400 for bad input and missing things, 401 for any refusal, 409, 413, 429.</summary>
    public static CompatDialect Kateway { get; } = new("errmsg", kind => kind switch
    {
        _ when kind == ProblemKind.Unauthorized || kind == ProblemKind.Forbidden => StatusCodes.Status401Unauthorized,
        _ when kind == ProblemKind.MessageTooLarge => StatusCodes.Status413PayloadTooLarge,
        _ when kind == ProblemKind.RateLimited || kind == ProblemKind.SubscriptionStreamLimit => StatusCodes.Status429TooManyRequests,
        _ when kind == ProblemKind.SubscriptionBusy || kind == ProblemKind.QuotaExceeded || kind == ProblemKind.FilterImmutable => StatusCodes.Status409Conflict,
        _ when kind.Status is >= 400 and < 500 => StatusCodes.Status400BadRequest,
        _ => kind.Status,
    });

    /// <summary>The ancestor's status for an error of <paramref name="kind"/>.</summary>
    public int StatusOf(ProblemKind kind) => status(kind);

    /// <summary>Runs <paramref name="handler"/>, answering its client errors in this dialect.</summary>
    public Func<HttpContext, Task> Wrap(Func<HttpContext, Task> handler) => async context =>
    {
        try
        {
            await handler(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
        }
        catch (CompatException ex)
        {
            if (ex.Status == StatusCodes.Status413PayloadTooLarge)
            {
                context.Response.Headers.Connection = "close";
            }

            await WriteAsync(context, ex.Status, ex.Message);
        }
        catch (Exception ex) when (ProblemMiddleware.Map(ex) is var (kind, detail) && kind != ProblemKind.Internal)
        {
            if (kind == ProblemKind.MessageTooLarge)
            {
                // The rest of the body stays unread and Kestrel will drop the connection: tell the client not to reuse it.
                context.Response.Headers.Connection = "close";
            }

            await WriteAsync(context, status(kind), detail);
        }
    };

    /// <summary>Writes <c>{"field": message}</c> with <paramref name="statusCode"/>; a started response is cut instead.</summary>
    public async Task WriteAsync(HttpContext context, int statusCode, string message)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }

        var connection = response.Headers.Connection;
        response.Clear();
        if (connection.Count > 0)
        {
            response.Headers.Connection = connection;
        }

        await Shape.WriteAsync(context, statusCode, message);
    }
}
