using Sluice.Core.Delay;
using Sluice.Core.Filters;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Diagnostics;

namespace Sluice.Server.Problems;

/// <summary>
/// Turns every error into problem+json: the server's own <see cref="ProblemException"/>, the log's and the
/// engine's user errors, Kestrel's body-size and bad-request errors, and (as 500, logged) anything unexpected.
/// Unknown routes (404) and known routes with the wrong method (405, with <c>Allow</c>) get one too.
/// </summary>
internal sealed partial class ProblemMiddleware(RequestDelegate next, ILogger<ProblemMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
            return;
        }
        catch (Exception ex)
        {
            var (kind, detail) = Map(ex);
            if (kind == ProblemKind.Internal)
            {
                Log.UnhandledException(logger, context.Request.Method, context.Request.Path.Value ?? "", ex);
            }

            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }

            context.Response.Clear();
            if (kind == ProblemKind.MessageTooLarge)
            {
                // The rest of the body stays unread and Kestrel will drop the connection: tell the client not to reuse it.
                context.Response.Headers.Connection = "close";
            }

            // A compatibility route answers in its ancestor's shape (ErrorShape); Sluice's own in problem+json.
            await ErrorShape.For(context).WriteAsync(context, kind, detail);
            return;
        }

        if (context.Response.HasStarted || context.Response.ContentLength > 0 || context.Response.ContentType is not null)
        {
            return;
        }

        if (context.Response.StatusCode == StatusCodes.Status404NotFound && context.GetEndpoint() is null)
        {
            await ProblemWriter.WriteAsync(context, ProblemKind.RouteNotFound,
                $"no route matches {context.Request.Method} {context.Request.Path}; the API lives under /v1/topics (see /openapi/v1.json)");
        }
        else if (context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            var allow = context.Response.Headers.Allow.ToString();
            await ErrorShape.For(context).WriteAsync(context, ProblemKind.MethodNotAllowed,
                $"{context.Request.Method} is not allowed on {context.Request.Path}; allowed: {allow}");
        }
        else if (context.Response.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            // Routing's own answer when the body's content type is not one the route accepts.
            await ErrorShape.For(context).WriteAsync(context, ProblemKind.UnsupportedMediaType,
                $"content type '{ProblemWriter.Printable(context.Request.ContentType, 100)}' is not accepted by {context.Request.Method} {context.Request.Path}; see /openapi/v1.json for what it accepts");
        }
    }

    internal static (ProblemKind Kind, string Detail) Map(Exception ex) => ex switch
    {
        ProblemException p => (p.Kind, p.Message),
        InvalidNameException => (ProblemKind.InvalidName, ex.Message),
        TopicNotFoundException => (ProblemKind.TopicNotFound, ex.Message + "; create it with PUT /v1/topics/{tenant}/{namespace}/{topic}"),
        PartitionNotFoundException => (ProblemKind.PartitionNotFound, ex.Message),
        RecordTooLargeException => (ProblemKind.MessageTooLarge, ex.Message),
        OffsetOutOfRangeException => (ProblemKind.OffsetOutOfRange, ex.Message),
        InvalidTopicSettingsException => (ProblemKind.InvalidParameter, ex.Message),
        OperationNotSupportedException => (ProblemKind.NotSupported, ex.Message),
        StorageFullException => (ProblemKind.StorageFull, ex.Message),
        CorruptRecordsException => (ProblemKind.CorruptRecords, ex.Message),
        TopicAlreadyExistsException => (ProblemKind.InvalidParameter, ex.Message),
        SubscriptionBusyException => (ProblemKind.SubscriptionBusy, ex.Message + "; use another subscription, or type shared, failover or key_shared"),
        SubscriptionNotFoundException => (ProblemKind.SubscriptionNotFound, ex.Message),
        InvalidSubscriptionSettingsException => (ProblemKind.InvalidParameter, ex.Message),
        FilterSyntaxException => (ProblemKind.InvalidFilter, ex.Message),
        SubscriptionFilterFixedException => (ProblemKind.FilterImmutable, ex.Message),
        Sluice.Core.Replication.ReplicatorFilterFixedException => (ProblemKind.FilterImmutable, ex.Message),
        InvalidDelayException => (ProblemKind.InvalidParameter, ex.Message),
        DelayUnavailableException => (ProblemKind.DelayUnavailable, ex.Message),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (ProblemKind.MessageTooLarge, "the request body is larger than the server allows (maxMessageBytes for one message, maxBatchBytes for a batch)"),
        BadHttpRequestException b => (ProblemKind.BadRequest, b.Message),
        _ => (ProblemKind.Internal, "the server failed to handle the request; it is logged"),
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.UnhandledException, Level = LogLevel.Error, Message = "Request {Method} {Path} failed")]
        public static partial void UnhandledException(ILogger logger, string method, string path, Exception exception);
    }
}
