using System.Globalization;
using System.Text.Json;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's admin routes (its <c>manServer</c>), onto topic and subscription admin:
/// <code>
///   GET    /v1/status/:appid/:topic/:ver?group=      [{"group","partition","pold","pubd","subd","realip"}] of the caller's groups
///   GET    /v1/subd/:topic/:ver                      every app's groups on the caller's topic, with "appid"
///   GET    /v1/partitions/:appid/:topic/:ver         {"num", "offsets": {"0": {"oldest", "latest"}}}
///   GET    /v1/peek/:appid/:topic/:ver?n=&amp;partition=&amp;offset=   the last n values (or n from an offset), base64 in a JSON array
///   POST   /v1/topics/:appid/:topic/:ver?partitions=&amp;retention.hours=&amp;retention.bytes=   create; PUT alters
///   POST   /v1/shadow/:appid/:topic/:ver/:group       create the group's retry and dead queues (201)
///   DELETE /v1/groups/:appid/:topic/:ver/:group       delete the group (its subscription)
///   PUT    /v1/offset/:appid/:topic/:ver/:group/:partition?offset=   move the group in one partition
/// </code>
/// </summary>
internal static class KatewayAdmin
{
    private const int MaxPeek = 100;

    public static async Task StatusAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Subkey");
        var topic = KatewayNames.Topic(KatewayNames.RouteApp(context), context);
        kateway.Access.Require(caller, topic, Permission.Consume);
        var group = context.Request.Query["group"].ToString();
        var app = KatewayAccess.AppOf(caller);
        var statuses = await StatusesAsync(kateway, topic, (a, g) => a == app && (group.Length == 0 || g == group), withApp: false, context.RequestAborted);
        await WriteJsonAsync(context, statuses, KatewayJsonContext.Default.ListKatewaySubStatus);
    }

    public static async Task SubdAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Subkey");
        var topic = KatewayNames.Topic(KatewayAccess.AppOf(caller), context);
        var statuses = await StatusesAsync(kateway, topic, (_, _) => true, withApp: true, context.RequestAborted);
        await WriteJsonAsync(context, statuses, KatewayJsonContext.Default.ListKatewaySubStatus);
    }

    public static async Task PartitionsAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Pubkey");
        var topic = KatewayNames.Topic(KatewayNames.RouteApp(context), context);
        kateway.Access.Require(caller, topic, Permission.Produce | Permission.Consume);
        var info = await DescribeAsync(kateway, topic, context.RequestAborted);
        var answer = new KatewayPartitions { Number = info.Partitions.Count };
        foreach (var p in info.Partitions)
        {
            answer.Offsets[p.Partition.ToString(CultureInfo.InvariantCulture)] = new KatewayPartitionOffsets { Oldest = p.StartOffset, Latest = p.EndOffset };
        }

        await WriteJsonAsync(context, answer, KatewayJsonContext.Default.KatewayPartitions);
    }

    public static async Task PeekAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Subkey");
        var topic = KatewayNames.Topic(KatewayNames.RouteApp(context), context);
        kateway.Access.Require(caller, topic, Permission.Consume);
        var query = context.Request.Query;
        int? partition = null;
        long offset = 0;
        if (query["partition"].ToString() is { Length: > 0 } p)
        {
            partition = int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new CompatException(StatusCodes.Status400BadRequest, "invalid partition");
        }

        if (query["offset"].ToString() is { Length: > 0 } o && !long.TryParse(o, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid offset");
        }

        if (partition is null != (query["offset"].ToString().Length == 0))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid partition and offset combination settings");
        }

        if (!int.TryParse(query["n"], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) || count == 0)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid n param");
        }

        count = Math.Clamp(count, 1, MaxPeek);
        var info = await DescribeAsync(kateway, topic, context.RequestAborted);
        var values = new List<byte[]>(count);
        foreach (var part in info.Partitions)
        {
            if (partition is { } wanted && part.Partition != wanted)
            {
                continue;
            }

            // A partition peek starts at its offset (which must be there); otherwise the last n of each partition.
            var from = partition is null ? Math.Max(part.StartOffset, part.EndOffset - count) : offset;
            if (partition is not null && (offset < part.StartOffset || offset >= part.EndOffset))
            {
                CompatException.Throw(StatusCodes.Status400BadRequest, "offset out of range");
            }

            var read = await kateway.Log.ReadAsync(topic, part.Partition, from, count - values.Count, 4 * 1024 * 1024, context.RequestAborted);
            values.AddRange(read.Records.Select(r => r.Value is { } v ? v.ToArray() : []));
            if (values.Count >= count)
            {
                break;
            }
        }

        if (partition is { } asked && asked >= info.Partitions.Count)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "partition out of range");
        }

        await WriteJsonAsync(context, values, KatewayJsonContext.Default.ListByteArray);
    }

    public static async Task CreateTopicAsync(HttpContext context, KatewayServices kateway)
    {
        var topic = AdminTopic(context, kateway);
        var settings = kateway.Topics.DefaultSettings with { Partitions = 1 };
        settings = ApplySla(context, settings, out _);
        if (settings.Validate() is { } reason)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, reason);
        }

        await kateway.Quotas.CheckTopicAsync(topic, context.RequestAborted);
        try
        {
            kateway.Topics.Remember(await kateway.Log.CreateTopicAsync(topic, settings, context.RequestAborted));
        }
        catch (TopicAlreadyExistsException)
        {
            CompatException.Throw(StatusCodes.Status409Conflict, $"topic {topic} already exists");
        }

        KatewayPub.WriteOk(context.Response);
    }

    public static async Task AlterTopicAsync(HttpContext context, KatewayServices kateway)
    {
        var topic = AdminTopic(context, kateway);
        var info = await DescribeAsync(kateway, topic, context.RequestAborted);
        var settings = ApplySla(context, info.Settings with { Partitions = info.Partitions.Count }, out var changed);
        if (!changed)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "nothing updated");
        }

        kateway.Topics.Remember(await kateway.Log.UpdateTopicAsync(topic, settings, context.RequestAborted));
        KatewayPub.WriteOk(context.Response);
    }

    public static async Task CreateShadowAsync(HttpContext context, KatewayServices kateway)
    {
        var group = KatewayGroup.Parse(context, kateway, context.Request.RouteValues["group"] as string);
        foreach (var shadow in new[] { KatewayNames.Retry, KatewayNames.Dead })
        {
            await kateway.Topics.GetPartitionCountAsync(KatewayNames.ShadowTopic(group.Origin, group.App, group.Group, shadow), create: true, context.RequestAborted);
        }

        KatewayPub.WriteOk(context.Response, StatusCodes.Status201Created);
    }

    public static async Task DeleteGroupAsync(HttpContext context, KatewayServices kateway)
    {
        var group = KatewayGroup.Parse(context, kateway, context.Request.RouteValues["group"] as string);
        await kateway.Subscriptions.DeleteAsync(group.Topic, group.Subscription, context.RequestAborted);
        kateway.SubscriptionDirectory.Forget(group.Topic, group.Subscription);
        KatewayPub.WriteOk(context.Response);
    }

    public static async Task ResetOffsetAsync(HttpContext context, KatewayServices kateway)
    {
        if (!long.TryParse(context.Request.Query["offset"], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var offset))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "offset must be an integer");
        }

        if (offset < 0)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "offset must be positive");
        }

        var group = KatewayGroup.Parse(context, kateway, context.Request.RouteValues["group"] as string);
        if (!int.TryParse(context.Request.RouteValues["partition"] as string, NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid partition");
        }

        await group.EnsureAsync(context, kateway, context.RequestAborted);
        await kateway.Subscriptions.SeekAsync(group.Topic, group.Subscription, StartPosition.AtOffset(offset, partition), context.RequestAborted);
        KatewayPub.WriteOk(context.Response);
    }

    private static async ValueTask<List<KatewaySubStatus>> StatusesAsync(KatewayServices kateway, TopicName topic, Func<string, string, bool> wanted, bool withApp, CancellationToken cancellationToken)
    {
        var info = await DescribeAsync(kateway, topic, cancellationToken);
        var result = new List<KatewaySubStatus>();
        foreach (var name in (await kateway.Subscriptions.ListAsync(topic, cancellationToken)).Order(StringComparer.Ordinal))
        {
            if (KatewayNames.Parse(name) is not var (app, group) || !wanted(app, group) || await kateway.Subscriptions.GetAsync(topic, name, cancellationToken) is not { } subscription)
            {
                continue;
            }

            foreach (var cursor in subscription.Partitions)
            {
                result.Add(new KatewaySubStatus
                {
                    Appid = withApp ? app : null,
                    Group = group,
                    Partition = cursor.Partition.ToString(CultureInfo.InvariantCulture),
                    ProducedOldest = info.Partitions.FirstOrDefault(p => p.Partition == cursor.Partition)?.StartOffset ?? 0,
                    ProducedNewest = cursor.EndOffset,
                    Consumed = cursor.CommittedOffset,
                });
            }
        }

        return result;
    }

    /// <summary>
    /// kateway's SLA parameters: <c>partitions</c>, <c>retention.hours</c>, <c>retention.bytes</c> (-1: none);
    /// <c>replicas</c> is the backend's to decide and ignored.
    /// </summary>
    private static TopicSettings ApplySla(HttpContext context, TopicSettings settings, out bool changed)
    {
        var query = context.Request.Query;
        changed = false;
        if (query["partitions"].ToString() is { Length: > 0 } p)
        {
            settings = settings with { Partitions = int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new CompatException(StatusCodes.Status400BadRequest, "invalid partitions") };
            changed = true;
        }

        if (query["retention.hours"].ToString() is { Length: > 0 } h)
        {
            settings = settings with
            {
                RetentionTime = double.TryParse(h, NumberStyles.Float, CultureInfo.InvariantCulture, out var hours) && hours > 0 && hours < 24 * 365 * 100
                    ? TimeSpan.FromHours(hours)
                    : throw new CompatException(StatusCodes.Status400BadRequest, "invalid retention.hours"),
            };
            changed = true;
        }

        if (query["retention.bytes"].ToString() is { Length: > 0 } b)
        {
            settings = settings with
            {
                RetentionBytes = long.TryParse(b, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var bytes) && bytes is -1 or > 0
                    ? (bytes == -1 ? null : bytes)
                    : throw new CompatException(StatusCodes.Status400BadRequest, "invalid retention.bytes"),
            };
            changed = true;
        }

        return settings;
    }

    /// <summary>The route's topic for an admin change: the caller's own, or one it holds admin of (kateway: its admin app).</summary>
    private static TopicName AdminTopic(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Pubkey");
        var topic = KatewayNames.Topic(KatewayNames.RouteApp(context), context);
        kateway.Access.Require(caller, topic, Permission.Admin);
        return topic;
    }

    private static async ValueTask<TopicInfo> DescribeAsync(KatewayServices kateway, TopicName topic, CancellationToken cancellationToken)
        => await kateway.Log.DescribeTopicAsync(topic, cancellationToken) ?? throw new CompatException(StatusCodes.Status400BadRequest, "invalid topic");

    private static async Task WriteJsonAsync<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, typeInfo, CancellationToken.None);
    }
}
