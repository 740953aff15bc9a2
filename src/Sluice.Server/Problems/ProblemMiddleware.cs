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
    public Task InvokeAsync(HttpContext context)
    {
        Task handled;
        try
        {
            handled = next(context);
        }
        catch (Exception ex)
        {
            // Thrown before the handler's first wait (its argument checks): answered below like any other failure.
            handled = Task.FromException(ex);
        }

        // A stream that has started its response and may go on for hours (SSE, WebSocket) leaves nothing for this
        // middleware to answer: a problem can no longer be written, only the connection cut. So it does not wait with
        // a stream whose endpoint says it handles its own failures once started (OwnsItsFailures), which would keep an
        // awaiting frame alive per idle stream (design note 0035); what such a stream does not catch, Kestrel logs, and
        // it ends the connection.
        if (!handled.IsCompleted && context.Response.HasStarted && context.GetEndpoint()?.Metadata.GetMetadata<OwnsItsFailures>() is not null)
        {
            return handled;
        }

        return AnswerAsync(context, handled);
    }

    private async Task AnswerAsync(HttpContext context, Task handled)
    {
        try
        {
            await handled;
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

/// <summary>
/// Endpoint metadata: once its response has started, the endpoint handles its own failures (client gone, consumer
/// ended, slow client) and <see cref="ProblemMiddleware"/> need not wait with it.
/// </summary>
internal sealed class OwnsItsFailures
{
    public static readonly OwnsItsFailures Instance = new();

    private OwnsItsFailures()
    {
    }
}
