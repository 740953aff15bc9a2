using Sluice.Core.Filters;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Diagnostics;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;
using Sluice.Server.Streaming;
using Sluice.Server.Topics;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Subscription admin (<c>PUT/GET/DELETE .../subscriptions/{name}</c>, list, seek), long-poll pull, ack and nack.
/// </summary>
internal static class SubscriptionEndpoints
{
    public const string ConsumerIdHeader = "Sluice-Consumer-Id";
    public const string AnonymousConsumer = "anonymous";
    public const int DefaultMax = 100;
    public const int MaxMax = 1000;
    public const int DefaultWaitMs = 0;
    public const int MaxWaitMs = 60_000;
    public const int MaxAckIds = 10_000;
    private const int MaxAdminBodyBytes = 64 * 1024;
    private const int MaxAckBodyBytes = 4 * 1024 * 1024;

    public static void Map(IEndpointRouteBuilder topics)
    {
        const string Sub = "/{tenant}/{namespace}/{topic}/subscriptions/{subscription}";
        topics.MapGet("/{tenant}/{namespace}/{topic}/subscriptions", (Func<HttpContext, Task>)ListAsync).WithName("ListSubscriptions").WithSummary("List a topic's subscriptions")
            .Produces<SubscriptionListResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapPut(Sub, (Func<HttpContext, Task>)PutAsync).WithName("PutSubscription").WithSummary("Create a subscription or change its settings")
            .Accepts<SubscriptionRequest>("application/json")
            .Produces<SubscriptionResponse>(StatusCodes.Status200OK).Produces<SubscriptionResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapGet(Sub, (Func<HttpContext, Task>)GetAsync).WithName("GetSubscription").WithSummary("A subscription's settings, per-partition progress, backlog, in-flight and consumers")
            .Produces<SubscriptionResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapDelete(Sub, (Func<HttpContext, Task>)DeleteAsync).WithName("DeleteSubscription").WithSummary("Delete a subscription and its cursors")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapGet(Sub + "/messages", (Func<HttpContext, Task>)PullAsync).WithName("Pull")
            .WithSummary("Long-poll: answers as soon as one message is ready or after waitMs (default 0, at most 60000) with up to max (default 100, at most 1000)")
            .Produces<PullResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict);
        topics.MapPost(Sub + "/acks", (Func<HttpContext, Task>)AckAsync).WithName("Ack").WithSummary("Acknowledge delivered messages")
            .Accepts<AckRequest>("application/json").Produces<AckResponse>().ProducesProblem(StatusCodes.Status400BadRequest);
        topics.MapPost(Sub + "/nacks", (Func<HttpContext, Task>)NackAsync).WithName("Nack").WithSummary("Return delivered messages for redelivery, optionally after delayMs")
            .Accepts<NackRequest>("application/json").Produces<NackResponse>().ProducesProblem(StatusCodes.Status400BadRequest);
        topics.MapPost(Sub + "/seek", (Func<HttpContext, Task>)SeekAsync).WithName("Seek").WithSummary("Move the subscription's cursor")
            .Accepts<SeekRequest>("application/json").Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status400BadRequest);
    }

    private static async Task ListAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        await context.RequestServices.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: false, context.RequestAborted);
        var names = await context.RequestServices.GetRequiredService<ISubscriptionService>().ListAsync(topic, context.RequestAborted);
        await context.Response.WriteAsJsonAsync(new SubscriptionListResponse([.. names]), SluiceJsonContext.Api.SubscriptionListResponse);
    }

    private static async Task PutAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var name = HttpRequestReader.Subscription(context);
        var services = context.RequestServices;
        var request = await HttpRequestReader.ReadJsonAsync(context, SluiceJsonContext.Api.SubscriptionRequest, MaxAdminBodyBytes)
            ?? new SubscriptionRequest(null, null, null, null, null);
        var partitionCount = await services.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        var service = services.GetRequiredService<ISubscriptionService>();
        var directory = services.GetRequiredService<SubscriptionDirectory>();

        var existing = await service.GetAsync(topic, name, context.RequestAborted);
        var current = existing?.Settings ?? directory.DefaultSettings;
        var settings = current with
        {
            Type = request.Type is { } type ? SubscriptionTypeNames.Parse(type) : current.Type,
            Position = request.Position is { } position ? PositionParser.Parse(position, partitionCount) : current.Position,
            AckDeadline = request.AckDeadlineMs is { } ms
                ? (ms is >= 0 and <= 43_200_000 ? TimeSpan.FromMilliseconds(ms) : throw new ProblemException(ProblemKind.InvalidParameter, $"ackDeadlineMs must be between 100 and 43200000; got {ms}"))
                : current.AckDeadline,
            MaxDeliveries = request.MaxDeliveries ?? current.MaxDeliveries,
            DeadLetterTopic = request.DeadLetterTopic is { } dlq ? ParseDeadLetterTopic(context, dlq) : current.DeadLetterTopic,

            // Omitted keeps the filter; a different one on an existing subscription is refused by the engine (409).
            Filter = request.Filter is { } filter ? ParseFilter(filter) : current.Filter,
        };
        if (settings.Validate() is { } reason)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, reason);
        }

        if (existing is null)
        {
            await services.GetRequiredService<TenantQuotas>().CheckSubscriptionAsync(topic, context.RequestAborted);
        }

        var info = await service.CreateOrUpdateAsync(topic, name, settings, context.RequestAborted);
        directory.Remember(topic, name);
        context.Response.StatusCode = existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        JsonAnswer.Write(context.Response, ToResponse(info), SluiceJsonContext.Api.SubscriptionResponse);
    }

    private static async Task GetAsync(HttpContext context)
    {
        var (topic, name) = await RequireTopicAsync(context);
        var info = await context.RequestServices.GetRequiredService<ISubscriptionService>().GetAsync(topic, name, context.RequestAborted)
            ?? throw NotFound(topic, name);
        JsonAnswer.Write(context.Response, ToResponse(info), SluiceJsonContext.Api.SubscriptionResponse);
    }

    private static async Task DeleteAsync(HttpContext context)
    {
        var (topic, name) = await RequireTopicAsync(context);
        var deleted = await context.RequestServices.GetRequiredService<ISubscriptionService>().DeleteAsync(topic, name, context.RequestAborted);
        context.RequestServices.GetRequiredService<SubscriptionDirectory>().Forget(topic, name);
        if (!deleted)
        {
            throw NotFound(topic, name);
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task PullAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var name = HttpRequestReader.Subscription(context);
        var max = HttpRequestReader.QueryInt(context, "max", 1, MaxMax) ?? DefaultMax;
        var waitMs = HttpRequestReader.QueryInt(context, "waitMs", 0, MaxWaitMs) ?? DefaultWaitMs;
        var consumerId = ConsumerId(context);
        var services = context.RequestServices;

        await services.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        await services.GetRequiredService<SubscriptionDirectory>().EnsureAsync(topic, name, context.RequestAborted);

        // A pull consumer attaches for one request; the engine keeps its identity (exclusivity, key_shared keys)
        // for subscriptions:consumerSessionTimeoutMs after it detaches, and its unacked messages keep their deadlines.
        // The wait ends early when the client disconnects or the server begins shutting down.
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        IReadOnlyList<Delivery> deliveries;
        var service = services.GetRequiredService<ISubscriptionService>();
        try
        {
            // Opening may wait too: on Kafka the first consumer of an instance joins the subscription's group.
            await using var consumer = await service.OpenConsumerAsync(topic, name, consumerId, linked.Token);
            deliveries = await consumer.ReceiveAsync(max, TimeSpan.FromMilliseconds(waitMs), linked.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // Shutdown, or the consumer was ended (subscription deleted or sought): nothing came.
            deliveries = [];
        }

        MessageTracing.Received(topic, name, deliveries);
        context.Response.Headers.CacheControl = "no-store";
        PullResponseWriter.Write(context.Response, deliveries);
    }

    private static async Task AckAsync(HttpContext context)
    {
        var (topic, name) = await RequireTopicAsync(context);
        var request = await HttpRequestReader.ReadJsonAsync(context, SluiceJsonContext.Api.AckRequest, MaxAckBodyBytes);
        using var read = request?.AckIds; // given back to the pool when refused, too
        var ackIds = ValidateAckIds(read);
        var result = await context.RequestServices.GetRequiredService<ISubscriptionService>().AckAsync(topic, name, ackIds, context.RequestAborted);
        JsonAnswer.Write(context.Response, new AckResponse(result.Succeeded, result.Unknown, result.Expired), SluiceJsonContext.Api.AckResponse);
    }

    private static async Task NackAsync(HttpContext context)
    {
        var (topic, name) = await RequireTopicAsync(context);
        var request = await HttpRequestReader.ReadJsonAsync(context, SluiceJsonContext.Api.NackRequest, MaxAckBodyBytes);
        using var read = request?.AckIds; // given back to the pool when refused, too
        var ackIds = ValidateAckIds(read);
        var delayMs = request?.DelayMs ?? 0;
        if (delayMs is < 0 or > 43_200_000)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"delayMs must be between 0 and 43200000 (12 h); got {delayMs}");
        }

        var result = await context.RequestServices.GetRequiredService<ISubscriptionService>()
            .NackAsync(topic, name, ackIds, TimeSpan.FromMilliseconds(delayMs), context.RequestAborted);
        JsonAnswer.Write(context.Response, new NackResponse(result.Succeeded, result.Unknown, result.Expired), SluiceJsonContext.Api.NackResponse);
    }

    private static async Task SeekAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var name = HttpRequestReader.Subscription(context);
        var partitionCount = await context.RequestServices.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: false, context.RequestAborted);
        var request = await HttpRequestReader.ReadJsonAsync(context, SluiceJsonContext.Api.SeekRequest, MaxAdminBodyBytes);
        if (request?.Position is not { } element)
        {
            throw new ProblemException(ProblemKind.InvalidParameter, "seek needs a body such as {\"position\": \"earliest\"}");
        }

        var position = PositionParser.Parse(element, partitionCount);
        var service = context.RequestServices.GetRequiredService<ISubscriptionService>();
        if (await service.GetAsync(topic, name, context.RequestAborted) is null)
        {
            throw NotFound(topic, name);
        }

        await service.SeekAsync(topic, name, position, context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async ValueTask<(TopicName Topic, string Name)> RequireTopicAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var name = HttpRequestReader.Subscription(context);
        await context.RequestServices.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: false, context.RequestAborted);
        return (topic, name);
    }

    private static AckIdList ValidateAckIds(AckIdList? ackIds)
    {
        if (ackIds is null || ackIds.Count == 0)
        {
            throw new ProblemException(ProblemKind.InvalidParameter, "the body must be {\"ackIds\": [\"...\"]} with at least one ack id from a pull");
        }

        if (ackIds.Count > MaxAckIds)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"at most {MaxAckIds} ack ids per request; got {ackIds.Count}");
        }

        if (ackIds.HasEmpty)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, "ack ids must be non-empty strings");
        }

        return ackIds;
    }

    private static string ConsumerId(HttpContext context)
    {
        var request = context.Request;
        var id = request.Headers.TryGetValue(ConsumerIdHeader, out var header) ? header.ToString()
            : request.Query.TryGetValue("consumer", out var query) ? query.ToString()
            : AnonymousConsumer;
        if (!Streaming.StreamRequest.IsValidConsumerId(id))
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, "the consumer id (header Sluice-Consumer-Id or ?consumer=) must be 1 to 255 printable ASCII characters");
        }

        return id;
    }

    private static TopicName ParseDeadLetterTopic(HttpContext context, string value)
    {
        var topic = TopicName.Parse(value);
        if (topic.IsInternal)
        {
            ProblemException.Throw(ProblemKind.InvalidName, $"deadLetterTopic may not be an internal topic (tenant starting with '{TopicName.InternalTenantPrefix}')");
        }

        // Dead letters are produced to it: the caller must be allowed to produce there itself.
        Access.Require(context, topic, Permission.Produce);

        return topic;
    }

    /// <summary>A filter from a request: "" is no filter (as in Pub/Sub); anything else must parse (400 invalid-filter).</summary>
    internal static MessageFilter? ParseFilter(string text) => text.Length == 0 ? null : MessageFilter.Parse(text);

    private static ProblemException NotFound(TopicName topic, string name)
        => new(ProblemKind.SubscriptionNotFound, $"subscription '{name}' does not exist on topic '{topic}'; create it with PUT or by pulling from it");

    internal static SubscriptionResponse ToResponse(SubscriptionInfo info)
    {
        var partitions = new List<SubscriptionPartitionResponse>(info.Partitions.Count);
        foreach (var p in info.Partitions)
        {
            partitions.Add(new SubscriptionPartitionResponse(p.Partition, p.CommittedOffset, p.EndOffset, p.Lag,
                CorruptRangeResponse.From(p.Skipped), p.StoppedAt is { } stopped ? CorruptRangeResponse.From(stopped) : null));
        }

        var consumers = new List<ConsumerResponse>(info.Consumers.Count);
        foreach (var c in info.Consumers)
        {
            consumers.Add(new ConsumerResponse(c.ConsumerId, c.Active, c.InFlight, c.LastSeen));
        }

        return new SubscriptionResponse(
            info.Topic.ToString(),
            info.Name,
            SubscriptionTypeNames.Name(info.Settings.Type),
            (long)info.Settings.AckDeadline.TotalMilliseconds,
            info.Settings.MaxDeliveries,
            info.Settings.DeadLetterTopic?.ToString(),
            partitions,
            info.Backlog,
            info.InFlight,
            consumers,
            info.Settings.Filter?.Text,
            info.FilteredOut);
    }
}
