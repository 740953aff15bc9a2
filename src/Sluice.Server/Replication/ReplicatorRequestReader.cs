using System.Globalization;
using System.Text.Json;
using Sluice.Core.Replication;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Problems;

namespace Sluice.Server.Replication;

/// <summary>
/// Reads a replicator's JSON body field by field, so every unknown field and bad value is refused with 400 naming it
/// (<c>batch.maxRecords</c>, <c>source.topic</c>); the <c>sink</c> object is read by its type (<see cref="SinkCatalog"/>).
/// </summary>
internal static class ReplicatorRequestReader
{
    private static readonly string[] TopFields = ["name", "source", "sink", "secrets", "batch", "retry", "deadLetterTopic", "ordering"];

    public static ReplicatorDefinition Read(JsonElement body, string? routeName, ReplicatorDefinition? previous, DateTimeOffset now)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw Malformed("the body must be a JSON object with source and sink");
        }

        Unknown(body, "", TopFields);
        var name = routeName ?? String(body, "name", "name") ?? throw Invalid("name is required");
        if (routeName is not null && String(body, "name", "name") is { } named && named != routeName)
        {
            throw Invalid($"name '{ProblemWriter.Printable(named, 100)}' differs from the name in the path '{routeName}'; leave it out or make them equal");
        }

        var source = Object(body, "source") ?? throw Invalid("source is required: {\"topic\": \"tenant/namespace/topic\"} or {\"topic\": \"tenant/namespace/*\"}");
        Unknown(source, "source.", ["topic", "position"]);
        var topicText = String(source, "topic", "source.topic") ?? throw Invalid("source.topic is required: tenant/namespace/topic, or tenant/namespace/* for every topic of a namespace");
        var replicatorSource = ParseSource(topicText);
        var position = source.TryGetProperty("position", out var p) && p.ValueKind != JsonValueKind.Null ? ParsePosition(p) : StartPosition.Earliest;

        if (!body.TryGetProperty("sink", out var sink) || sink.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("sink is required: an object with a type and the type's settings");
        }

        var sinkType = sink.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : throw Invalid("sink.type is required");
        var secrets = ReadSecrets(body) ?? previous?.Secrets ?? new Dictionary<string, string>(StringComparer.Ordinal);
        var batch = Object(body, "batch");
        if (batch is { } b)
        {
            Unknown(b, "batch.", ["maxRecords", "maxBytes", "lingerMs"]);
        }

        var retry = Object(body, "retry");
        if (retry is { } r)
        {
            Unknown(r, "retry.", ["initialIntervalMs", "maxIntervalMs", "maxAttempts"]);
        }

        var batchDefaults = new ReplicatorBatchPolicy();
        var retryDefaults = new ReplicatorRetryPolicy();
        var definition = new ReplicatorDefinition
        {
            Name = name,
            Source = replicatorSource,
            Position = position,
            SinkType = sinkType,
            SinkJson = sink.GetRawText(),
            Secrets = secrets,
            Batch = new ReplicatorBatchPolicy
            {
                MaxRecords = (int)(Integer(batch, "maxRecords", "batch.maxRecords", int.MaxValue) ?? batchDefaults.MaxRecords),
                MaxBytes = (int)(Integer(batch, "maxBytes", "batch.maxBytes", int.MaxValue) ?? batchDefaults.MaxBytes),
                Linger = Ms(Integer(batch, "lingerMs", "batch.lingerMs", int.MaxValue), batchDefaults.Linger),
            },
            Retry = new ReplicatorRetryPolicy
            {
                InitialInterval = Ms(Integer(retry, "initialIntervalMs", "retry.initialIntervalMs", int.MaxValue), retryDefaults.InitialInterval),
                MaxInterval = Ms(Integer(retry, "maxIntervalMs", "retry.maxIntervalMs", int.MaxValue), retryDefaults.MaxInterval),
                MaxAttempts = (int)(Integer(retry, "maxAttempts", "retry.maxAttempts", int.MaxValue) ?? retryDefaults.MaxAttempts),
            },
            DeadLetterTopic = String(body, "deadLetterTopic", "deadLetterTopic"),
            Ordering = String(body, "ordering", "ordering") switch
            {
                null or "partition" => ReplicatorOrdering.Partition,
                "none" => ReplicatorOrdering.None,
                _ => throw Invalid("ordering must be partition (one batch in flight per partition, the default) or none"),
            },
            Stopped = previous?.Stopped ?? false,
            CreatedAt = previous?.CreatedAt ?? now,
        };

        if (SecretReferences.Validate(definition.Secrets) is { } secretProblem)
        {
            throw Invalid(secretProblem.Reason);
        }

        if (definition.Validate() is { } problem)
        {
            throw Invalid(problem.Reason);
        }

        return definition;
    }

    /// <summary><c>{"position": "earliest" | "latest" | {"time": ...}}</c> or <c>{"offsets": [{"topic", "partition", "offset"}]}</c>.</summary>
    public static ReplicatorSeek ReadSeek(JsonElement body, ReplicatorSource source)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw Malformed("the body must be a JSON object: {\"position\": ...} or {\"offsets\": [...]}");
        }

        Unknown(body, "", ["position", "offsets"]);
        var hasPosition = body.TryGetProperty("position", out var p) && p.ValueKind != JsonValueKind.Null;
        var hasOffsets = body.TryGetProperty("offsets", out var o) && o.ValueKind != JsonValueKind.Null;
        if (hasPosition == hasOffsets)
        {
            throw Invalid("give either position (\"earliest\", \"latest\" or {\"time\": ...}) or offsets ([{\"topic\", \"partition\", \"offset\"}])");
        }

        if (hasPosition)
        {
            return new ReplicatorSeek { Position = ParsePosition(p, "position") };
        }

        if (o.ValueKind != JsonValueKind.Array || o.GetArrayLength() is 0 or > 10_000)
        {
            throw Invalid("offsets must be an array of 1 to 10000 {\"topic\", \"partition\", \"offset\"}");
        }

        var offsets = new List<ReplicatorSeekOffset>();
        var i = 0;
        foreach (var item in o.EnumerateArray())
        {
            var path = $"offsets[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"{path} must be an object {{\"topic\", \"partition\", \"offset\"}}");
            }

            Unknown(item, path + ".", ["topic", "partition", "offset"]);
            TopicName? topic = String(item, "topic", path + ".topic") is { } text ? ParseTopic(text, path + ".topic") : null;
            if (topic is null && source.IsNamespace)
            {
                throw Invalid($"{path}.topic is required: the source is a namespace");
            }

            if (topic is { } tn && !source.Covers(tn))
            {
                throw Invalid($"{path}.topic {tn} is not in the source {source}");
            }

            var partition = Integer(item, "partition", path + ".partition", TopicSettingsMaxPartitions) ?? throw Invalid($"{path}.partition is required");
            var offset = Integer(item, "offset", path + ".offset", long.MaxValue) ?? throw Invalid($"{path}.offset is required");
            offsets.Add(new ReplicatorSeekOffset(topic, (int)partition, offset));
        }

        return new ReplicatorSeek { Offsets = offsets };
    }

    private const long TopicSettingsMaxPartitions = Core.Log.TopicSettings.MaxPartitions - 1;

    private static ReplicatorSource ParseSource(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 3 && parts[2] == "*")
        {
            try
            {
                TopicName.ThrowIfInvalidPart(parts[0], "tenant");
                TopicName.ThrowIfInvalidPart(parts[1], "namespace");
            }
            catch (InvalidNameException ex)
            {
                throw Invalid("source.topic: " + ex.Message);
            }

            return ReplicatorSource.ForNamespace(parts[0], parts[1]);
        }

        return ReplicatorSource.ForTopic(ParseTopic(text, "source.topic"));
    }

    private static TopicName ParseTopic(string text, string field)
    {
        try
        {
            var topic = TopicName.Parse(text);
            return topic.IsInternal ? throw Invalid($"{field}: tenants starting with '{TopicName.InternalTenantPrefix}' are Sluice's own") : topic;
        }
        catch (InvalidNameException ex)
        {
            throw Invalid($"{field}: {ex.Message}");
        }
    }

    private static StartPosition ParsePosition(JsonElement value, string field = "source.position")
    {
        if (value.ValueKind == JsonValueKind.String && value.GetString() is "earliest")
        {
            return StartPosition.Earliest;
        }

        if (value.ValueKind == JsonValueKind.String && value.GetString() is "latest")
        {
            return StartPosition.Latest;
        }

        if (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Count() == 1 && value.TryGetProperty("time", out var time))
        {
            if (time.ValueKind == JsonValueKind.Number && time.TryGetInt64(out var ms) && ms is >= 0 and <= 253402300799999)
            {
                return StartPosition.AtTime(DateTimeOffset.FromUnixTimeMilliseconds(ms));
            }

            if (time.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(time.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            {
                return StartPosition.AtTime(at);
            }
        }

        throw Invalid($"{field} must be \"earliest\", \"latest\" or {{\"time\": \"ISO-8601\" or epoch milliseconds}}");
    }

    private static Dictionary<string, string>? ReadSecrets(JsonElement body)
    {
        if (!body.TryGetProperty("secrets", out var secrets) || secrets.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (secrets.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("secrets must be an object from name to value");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in secrets.EnumerateObject())
        {
            // Never the value in the message: it is a secret.
            result[s.Name] = s.Value.ValueKind == JsonValueKind.String ? s.Value.GetString()! : throw Invalid($"secrets.{ProblemWriter.Printable(s.Name, 64)} must be a string");
        }

        return result;
    }

    private static void Unknown(JsonElement obj, string prefix, string[] known)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (!known.Contains(p.Name, StringComparer.Ordinal))
            {
                throw Malformed($"{prefix}{ProblemWriter.Printable(p.Name, 100)} is not a field here; known: {string.Join(", ", known.Select(k => prefix + k))}");
            }
        }
    }

    private static JsonElement? Object(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object ? value : throw Invalid($"{name} must be an object");
    }

    private static string? String(JsonElement obj, string name, string path)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s ? s : throw Invalid($"{path} must be a non-empty string");
    }

    private static long? Integer(JsonElement? obj, string name, string path, long max)
    {
        if (obj is not { } o || !o.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0 && n <= max
            ? n
            : throw Invalid($"{path} must be an integer between 0 and {max}");
    }

    private static TimeSpan Ms(long? value, TimeSpan fallback) => value is { } ms ? TimeSpan.FromMilliseconds(ms) : fallback;

    private static ProblemException Invalid(string detail) => new(ProblemKind.InvalidParameter, detail);

    private static ProblemException Malformed(string detail) => new(ProblemKind.MalformedJson, detail);
}
