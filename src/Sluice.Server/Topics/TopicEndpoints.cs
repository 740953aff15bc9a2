using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;
using Sluice.Server.Streaming;

namespace Sluice.Server.Topics;

/// <summary>Topic admin: <c>PUT/GET/DELETE /v1/topics/{tenant}/{namespace}/{topic}</c> and <c>GET /v1/topics</c>.</summary>
internal static class TopicEndpoints
{
    /// <summary>Admin bodies are small; this bounds what a PUT may make the server buffer.</summary>
    private const int MaxAdminBodyBytes = 64 * 1024;

    public static void Map(IEndpointRouteBuilder topics)
    {
        topics.MapGet("", (Func<HttpContext, Task>)ListAsync).WithName("ListTopics").WithSummary("List topics")
            .Produces<TopicListResponse>();
        topics.MapPut("/{tenant}/{namespace}/{topic}", (Func<HttpContext, Task>)PutAsync).WithName("PutTopic").WithSummary("Create a topic or change its settings")
            .Accepts<TopicRequest>("application/json")
            .Produces<TopicResponse>(StatusCodes.Status200OK)
            .Produces<TopicResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        topics.MapGet("/{tenant}/{namespace}/{topic}", (Func<HttpContext, Task>)GetAsync).WithName("GetTopic").WithSummary("Describe a topic and its partitions")
            .Produces<TopicResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        topics.MapDelete("/{tenant}/{namespace}/{topic}", (Func<HttpContext, Task>)DeleteAsync).WithName("DeleteTopic").WithSummary("Delete a topic, its data and its subscriptions")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task ListAsync(HttpContext context)
    {
        var log = context.RequestServices.GetRequiredService<IMessageLog>();
        var all = await log.ListTopicsAsync(context.RequestAborted);
        var names = new List<string>(all.Count);
        foreach (var topic in all)
        {
            // A listing shows only what the caller may use: it must not reveal other tenants' topics.
            if (!topic.IsInternal && Access.Can(context, topic, Permission.Produce | Permission.Consume))
            {
                names.Add(topic.ToString());
            }
        }

        await context.Response.WriteAsJsonAsync(new TopicListResponse(names), SluiceJsonContext.Api.TopicListResponse);
    }

    private static async Task PutAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var request = await HttpRequestReader.ReadJsonAsync(context, SluiceJsonContext.Api.TopicRequest, MaxAdminBodyBytes)
            ?? new TopicRequest(null, null, null, null);
        var log = context.RequestServices.GetRequiredService<IMessageLog>();
        var directory = context.RequestServices.GetRequiredService<TopicDirectory>();

        if (request.RetentionMs is < 0 || request.RetentionBytes is < 0 || request.Partitions is < 1 or > TopicSettings.MaxPartitions)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter,
                $"partitions must be between 1 and {TopicSettings.MaxPartitions}; retentionMs and retentionBytes must be 0 or more (0 keeps forever; omitted, the current value or the server's default is kept)");
        }

        var existing = await log.DescribeTopicAsync(topic, context.RequestAborted);
        var current = existing?.Settings ?? directory.DefaultSettings;
        var settings = current with
        {
            Partitions = request.Partitions ?? current.Partitions,
            // 0 keeps forever, as in the server's topics:retentionMs and topics:retentionBytes.
            RetentionTime = request.RetentionMs is { } ms ? (ms == 0 ? null : TimeSpan.FromMilliseconds(ms)) : current.RetentionTime,
            RetentionBytes = request.RetentionBytes is { } bytes ? (bytes == 0 ? null : bytes) : current.RetentionBytes,
            Compacted = request.Compacted ?? current.Compacted,
        };
        if (settings.Validate() is { } reason)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, reason);
        }

        if (existing is not null && settings.Partitions < existing.Partitions.Count)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter,
                $"a topic's partition count can only grow; '{topic}' has {existing.Partitions.Count}, asked for {settings.Partitions}");
        }

        TopicInfo info;
        var created = false;
        if (existing is null)
        {
            await context.RequestServices.GetRequiredService<TenantQuotas>().CheckTopicAsync(topic, context.RequestAborted);
            try
            {
                info = await log.CreateTopicAsync(topic, settings, context.RequestAborted);
                created = true;
            }
            catch (TopicAlreadyExistsException)
            {
                info = await log.UpdateTopicAsync(topic, settings, context.RequestAborted);
            }
        }
        else
        {
            info = await log.UpdateTopicAsync(topic, settings, context.RequestAborted);
        }

        directory.Remember(info);
        context.Response.StatusCode = created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        JsonAnswer.Write(context.Response, ToResponse(info), SluiceJsonContext.Api.TopicResponse);
    }

    private static async Task GetAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var log = context.RequestServices.GetRequiredService<IMessageLog>();
        var info = await log.DescribeTopicAsync(topic, context.RequestAborted)
            ?? throw new ProblemException(ProblemKind.TopicNotFound, $"topic '{topic}' does not exist");
        JsonAnswer.Write(context.Response, ToResponse(info), SluiceJsonContext.Api.TopicResponse);
    }

    private static async Task DeleteAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var services = context.RequestServices;
        var log = services.GetRequiredService<IMessageLog>();
        var subscriptions = services.GetRequiredService<ISubscriptionService>();
        var directory = services.GetRequiredService<TopicDirectory>();

        if (await log.DescribeTopicAsync(topic, context.RequestAborted) is null)
        {
            ProblemException.Throw(ProblemKind.TopicNotFound, $"topic '{topic}' does not exist");
        }

        // Subscriptions first: their consumers end (told the topic went) before the data they read disappears. Again
        // after: a background consumer (a webhook) may have created its subscription again in between. On a full disk a
        // subscription's delete cannot be written (and changes nothing); deleting this topic's data frees space, so then
        // the subscriptions go after it, whatever the request's fate.
        var diskFull = false;
        try
        {
            await subscriptions.DeleteForTopicAsync(topic, context.RequestAborted);
        }
        catch (StorageFullException)
        {
            diskFull = true;
        }

        var deleted = await log.DeleteTopicAsync(topic, context.RequestAborted);
        await subscriptions.DeleteForTopicAsync(topic, diskFull ? CancellationToken.None : context.RequestAborted);

        // Then its pending delayed messages, which could only be delivered into the deleted topic.
        await services.GetRequiredService<Sluice.Core.Delay.IDelayService>().DeleteTopicAsync(topic, diskFull ? CancellationToken.None : context.RequestAborted);
        directory.Forget(topic);
        services.GetRequiredService<Subscriptions.SubscriptionDirectory>().ForgetTopic(topic);
        if (!deleted)
        {
            ProblemException.Throw(ProblemKind.TopicNotFound, $"topic '{topic}' does not exist");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    internal static TopicResponse ToResponse(TopicInfo info)
    {
        var partitions = new List<PartitionResponse>(info.Partitions.Count);
        foreach (var p in info.Partitions)
        {
            partitions.Add(new PartitionResponse(p.Partition, p.StartOffset, p.EndOffset, p.Bytes, p.OldestTimestamp, p.NewestTimestamp,
                CorruptRangeResponse.From(p.CorruptRanges)));
        }

        return new TopicResponse(
            info.Name.ToString(),
            partitions,
            info.Settings.RetentionTime is { } t ? (long)t.TotalMilliseconds : null,
            info.Settings.RetentionBytes,
            info.Settings.Compacted);
    }
}
