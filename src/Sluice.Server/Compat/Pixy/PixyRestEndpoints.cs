using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Pixy;

/// <summary>
/// Kafka-Pixy's REST routes, with and without <c>/clusters/{cluster}</c>: answers, statuses and error texts as Pixy's
/// (JSON indented by two spaces, errors <c>{"error": "..."}</c>), translated onto <see cref="PixyGateway"/>.
/// </summary>
internal static partial class PixyRestEndpoints
{
    private const string KafkaHeaderPrefix = "X-Kafka-";

    public static void Map(IEndpointRouteBuilder app)
    {
        // Each cluster's gateway, picked per request by the route's {cluster} ("" or absent: the default one).
        var clusters = app.ServiceProvider.GetRequiredService<Clusters.ClusterSet>();
        var gateways = clusters.All.ToFrozenDictionary(c => c.Name, c => c.Get<PixyGateway>(), StringComparer.OrdinalIgnoreCase);
        foreach (var prefix in new[] { "", "/clusters/{cluster}" })
        {
            var name = prefix.Length == 0 ? "Pixy" : "PixyCluster";
            app.MapPost(prefix + "/topics/{topic}/messages", (HttpContext c) => Run(c, gateways, ProduceAsync)).WithName(name + "Produce").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapGet(prefix + "/topics/{topic}/messages", (HttpContext c) => Run(c, gateways, ConsumeAsync)).WithName(name + "Consume").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapPost(prefix + "/topics/{topic}/acks", (HttpContext c) => Run(c, gateways, AckAsync)).WithName(name + "Ack").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapGet(prefix + "/topics/{topic}/offsets", (HttpContext c) => Run(c, gateways, GetOffsetsAsync)).WithName(name + "GetOffsets").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapPost(prefix + "/topics/{topic}/offsets", (HttpContext c) => Run(c, gateways, SetOffsetsAsync)).WithName(name + "SetOffsets").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapGet(prefix + "/topics/{topic}/consumers", (HttpContext c) => Run(c, gateways, ConsumersAsync)).WithName(name + "Consumers").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapGet(prefix + "/topics", (HttpContext c) => Run(c, gateways, ListTopicsAsync)).WithName(name + "ListTopics").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
            app.MapGet(prefix + "/topics/{topic}", (HttpContext c) => Run(c, gateways, GetTopicAsync)).WithName(name + "GetTopic").WithMetadata(AccessRule.PerResource).ExcludeFromDescription();
        }

        app.MapGet("/_ping", () => Results.Text("pong", "text/plain; charset=utf-8")).WithName("PixyPing").WithMetadata(AccessRule.Public).ExcludeFromDescription();
    }

    // Pixy's errors are JSON {"error": text} with the status of their kind; everything else goes to ProblemMiddleware.
    private static async Task Run(HttpContext context, FrozenDictionary<string, PixyGateway> gateways, Func<HttpContext, PixyGateway, Task> handler)
    {
        try
        {
            await handler(context, Gateway(context, gateways));
        }
        catch (PixyException ex)
        {
            await WriteErrorAsync(context, Status(ex.Kind), ex.Message);
        }
        catch (InvalidNameException ex)
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message);
        }
        catch (SubscriptionBusyException ex)
        {
            await WriteErrorAsync(context, StatusCodes.Status409Conflict, ex.Message);
        }
        catch (Exception ex) when (ex is TopicNotFoundException or PartitionNotFoundException)
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, "Unknown topic");
        }
    }

    private static int Status(PixyErrorKind kind) => kind switch
    {
        PixyErrorKind.InvalidArgument => StatusCodes.Status400BadRequest,
        PixyErrorKind.UnknownTopic => StatusCodes.Status404NotFound,
        PixyErrorKind.LongPollingTimeout => StatusCodes.Status408RequestTimeout,
        PixyErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        PixyErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status500InternalServerError,
    };

    // Pixy's check of the cluster route segment: absent, empty or a configured cluster.
    private static PixyGateway Gateway(HttpContext context, FrozenDictionary<string, PixyGateway> gateways)
    {
        var cluster = context.Request.RouteValues["cluster"] as string;
        return string.IsNullOrEmpty(cluster) ? gateways[Clusters.ClusterSet.DefaultName]
            : gateways.GetValueOrDefault(cluster) ?? throw PixyGateway.UnknownCluster(cluster);
    }

    private static TopicName Topic(HttpContext context, Permission permission)
    {
        var topic = PixyTopics.Map(context.Request.RouteValues["topic"] as string);
        if (!Access.Can(context, topic, permission))
        {
            throw new PixyException(PixyErrorKind.Forbidden, Access.Denied(topic.Tenant, topic.Namespace, permission));
        }

        return topic;
    }

    private static async Task ProduceAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Produce);
        var request = context.Request;
        var form = request.HasFormContentType ? await request.ReadFormAsync(context.RequestAborted) : null;
        byte[]? key = request.Query.TryGetValue("key", out var k) ? Encoding.UTF8.GetBytes(k[0] ?? "")
            : form is not null && form.TryGetValue("key", out var fk) ? Encoding.UTF8.GetBytes(fk[0] ?? "") : null;
        var isSync = request.Query.ContainsKey("sync") || form?.ContainsKey("sync") == true;
        var value = await ReadMessageAsync(context, form);

        var headers = new List<(string, byte[])>();
        foreach (var (name, values) in request.Headers)
        {
            if (!name.StartsWith(KafkaHeaderPrefix, StringComparison.OrdinalIgnoreCase) || name.Length == KafkaHeaderPrefix.Length)
            {
                continue;
            }

            // Go canonicalises header names (x-kafka-trace-id is X-Kafka-Trace-Id): the record header is what follows the prefix.
            var canonical = GoHeaders.Canonical(name);
            foreach (var v in values)
            {
                try
                {
                    headers.Add((canonical[KafkaHeaderPrefix.Length..], Convert.FromBase64String(v ?? "")));
                }
                catch (FormatException)
                {
                    throw new PixyException(PixyErrorKind.InvalidArgument, $"Invalid base64 encoding for header: {PixyTopics.Printable(canonical)}");
                }
            }
        }

        var (partition, offset) = await gateway.ProduceAsync(topic, key, value, PixyGateway.Headers(headers), async: !isSync, context.RequestAborted);
        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            if (isSync)
            {
                w.WriteNumber("partition", partition);
                w.WriteNumber("offset", offset);
            }

            w.WriteEndObject();
        });
    }

    // Pixy's body rules: text/plain or a JSON media type is the message as sent (with a Content-Length); a form's field msg.
    private static async Task<byte[]> ReadMessageAsync(HttpContext context, IFormCollection? form)
    {
        var request = context.Request;
        var contentType = request.ContentType ?? "";
        if (contentType == "text/plain" || JsonMediaType().IsMatch(contentType))
        {
            if (request.ContentLength is not { } length)
            {
                throw new PixyException(PixyErrorKind.InvalidArgument, "missing Content-Length header");
            }

            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, context.RequestAborted);
            if (buffer.Length != length)
            {
                throw new PixyException(PixyErrorKind.InvalidArgument, $"message size does not match Content-Length: expected={length}, actual={buffer.Length}");
            }

            return buffer.ToArray();
        }

        if (contentType == "application/x-www-form-urlencoded")
        {
            var msg = form?["msg"].ToString() ?? "";
            if (msg.Length == 0)
            {
                throw new PixyException(PixyErrorKind.InvalidArgument, "empty message");
            }

            return Encoding.UTF8.GetBytes(msg);
        }

        throw new PixyException(PixyErrorKind.InvalidArgument, $"unsupported content type {PixyTopics.Printable(contentType)}");
    }

    private static async Task ConsumeAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Consume);
        var group = Group(context, optional: false)!;
        var ack = ParseAck(context, "ackPartition", "ackOffset", consume: true);
        var delivery = await gateway.ConsumeAsync(topic, group, ack, context.RequestAborted);
        var record = delivery.Record;
        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            if (record.Key is { } key)
            {
                w.WriteBase64String("key", key.Span);
            }
            else
            {
                w.WriteNull("key");
            }

            if (record.Value is { } value)
            {
                w.WriteBase64String("value", value.Span);
            }
            else
            {
                w.WriteNull("value");
            }

            w.WriteNumber("partition", delivery.Partition);
            w.WriteNumber("offset", record.Offset);
            w.WriteStartArray("headers");
            foreach (var (name, text) in record.Headers)
            {
                w.WriteStartObject();
                w.WriteString("key", name);
                w.WriteBase64String("value", Encoding.UTF8.GetBytes(text));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task AckAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Consume);
        var group = Group(context, optional: false)!;
        var ack = ParseAck(context, "partition", "offset", consume: false);
        if (ack.Mode == PixyAckMode.Explicit)
        {
            await gateway.AckAsync(topic, group, ack.Partition, ack.Offset, context.RequestAborted);
        }

        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteEndObject();
        });
    }

    private static async Task GetOffsetsAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Consume);
        var group = Group(context, optional: false)!;
        var rows = await gateway.GetOffsetsAsync(topic, group, context.RequestAborted);
        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartArray();
            foreach (var row in rows)
            {
                w.WriteStartObject();
                w.WriteNumber("partition", row.Partition);
                w.WriteNumber("begin", row.Begin);
                w.WriteNumber("end", row.End);
                w.WriteNumber("count", row.Count);
                w.WriteNumber("offset", row.Offset);
                w.WriteNumber("lag", row.Lag);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
    }

    private static async Task SetOffsetsAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Consume);
        var group = Group(context, optional: false)!;
        var offsets = new List<(int, long)>();
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            if (body.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new JsonException($"json: cannot unmarshal {body.RootElement.ValueKind.ToString().ToLowerInvariant()} into Go value of type []httpsrv.partitionInfo");
            }

            foreach (var item in body.RootElement.EnumerateArray())
            {
                var partition = item.TryGetProperty("partition", out var p) ? p.GetInt32() : 0;
                var offset = item.TryGetProperty("offset", out var o) ? o.GetInt64() : 0;
                offsets.Add((partition, offset));
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"Failed to parse the request: err=({ex.Message})");
        }

        await gateway.SetOffsetsAsync(topic, group, offsets, context.RequestAborted);
        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteEndObject();
        });
    }

    private static async Task ConsumersAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Consume);
        var group = Group(context, optional: true);
        var groups = await gateway.ListConsumersAsync(topic, group, context.RequestAborted);
        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            foreach (var (name, members) in groups)
            {
                w.WriteStartObject(name);
                foreach (var (member, partitions) in members)
                {
                    w.WriteStartArray(member);
                    foreach (var p in partitions)
                    {
                        w.WriteNumberValue(p);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
    }

    private static async Task ListTopicsAsync(HttpContext context, PixyGateway gateway)
    {
        var withPartitions = context.Request.Query.ContainsKey("withPartitions");
        var withConfig = context.Request.Query.ContainsKey("withConfig");
        var all = await gateway.ListTopicsAsync(context.RequestAborted);
        var visible = all.Where(t => Access.Can(context, t.Info.Name, Permission.Produce | Permission.Consume)).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        await WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            if (!withPartitions && !withConfig)
            {
                w.WriteStartArray();
                foreach (var (name, _) in visible)
                {
                    w.WriteStringValue(name);
                }

                w.WriteEndArray();
                return;
            }

            w.WriteStartObject();
            foreach (var (name, info) in visible)
            {
                w.WritePropertyName(name);
                WriteTopicMetadata(w, info, withPartitions, withConfig);
            }

            w.WriteEndObject();
        });
    }

    private static async Task GetTopicAsync(HttpContext context, PixyGateway gateway)
    {
        var topic = Topic(context, Permission.Produce | Permission.Consume);
        var withPartitions = context.Request.Query.ContainsKey("withPartitions");
        var info = await gateway.GetTopicAsync(topic, context.RequestAborted);
        await WriteJsonAsync(context, StatusCodes.Status200OK, w => WriteTopicMetadata(w, info, withPartitions, withConfig: true));
    }

    private static void WriteTopicMetadata(Utf8JsonWriter w, TopicInfo info, bool withPartitions, bool withConfig)
    {
        w.WriteStartObject();
        if (withConfig)
        {
            w.WriteStartObject("config");
            w.WriteNumber("version", PixyTopicConfig.Version);
            w.WriteStartObject("config");
            foreach (var (key, value) in PixyTopicConfig.Of(info))
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (withPartitions && info.Partitions.Count > 0)
        {
            w.WriteStartArray("partitions");
            foreach (var p in info.Partitions)
            {
                w.WriteStartObject();
                w.WriteNumber("partition", p.Partition);
                w.WriteNumber("leader", PixyTopicConfig.Leader);
                w.WriteStartArray("replicas");
                w.WriteNumberValue(PixyTopicConfig.Leader);
                w.WriteEndArray();
                w.WriteStartArray("isr");
                w.WriteNumberValue(PixyTopicConfig.Leader);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    // Pixy: exactly one group ("group" in the query, or in a form body), or none where it is optional.
    private static string? Group(HttpContext context, bool optional)
    {
        var groups = context.Request.Query["group"];
        if (groups.Count > 1 || (!optional && groups.Count == 0))
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"one consumer group is expected, but {groups.Count} provided");
        }

        if (groups.Count == 0)
        {
            return null;
        }

        var group = groups[0] ?? "";
        PixyGateway.ValidateGroup(group);
        return group;
    }

    // Pixy's ack parameters: noAck (a flag) wins; then both of partition and offset, or neither (auto-ack on consume).
    private static PixyAck ParseAck(HttpContext context, string partitionName, string offsetName, bool consume)
    {
        var query = context.Request.Query;
        if (consume && query.ContainsKey("noAck"))
        {
            return PixyAck.None;
        }

        var hasPartition = query.TryGetValue(partitionName, out var partitionText);
        var hasOffset = query.TryGetValue(offsetName, out var offsetText);
        var partition = 0;
        long offset = 0;
        if (hasPartition && (!int.TryParse(partitionText[0], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out partition) || partition < 0))
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"bad {partitionName}: [{PixyTopics.Printable(partitionText[0] ?? "")}]");
        }

        if (hasOffset && (!long.TryParse(offsetText[0], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out offset) || offset < 0))
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"bad {offsetName}: [{PixyTopics.Printable(offsetText[0] ?? "")}]");
        }

        if (hasPartition && hasOffset)
        {
            return new PixyAck(PixyAckMode.Explicit, partition, offset);
        }

        if (!hasPartition && !hasOffset)
        {
            return consume ? PixyAck.Auto : PixyAck.None;
        }

        throw new PixyException(PixyErrorKind.InvalidArgument, $"{partitionName} and {offsetName} either both should be provided or neither");
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string message)
        => WriteJsonAsync(context, status, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            w.WriteEndObject();
        });

    private static readonly JsonWriterOptions Indented = new() { Indented = true };

    private static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Indented))
        {
            write(writer);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, CancellationToken.None);
    }

    [GeneratedRegex("^application/(?:.*\\+)?json(?:;.*)?$", RegexOptions.CultureInvariant)]
    private static partial Regex JsonMediaType();
}
