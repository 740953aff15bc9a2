using System.Text.Json;
using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>
/// The sink types this gateway knows (every <see cref="ReplicationSinkType"/> registered), and the reading of a
/// replicator's <c>sink</c> object: <c>type</c>, <c>targets</c>, the target template, secret references, unknown fields.
/// </summary>
public sealed class SinkCatalog
{
    private readonly Dictionary<string, ReplicationSinkType> _types;

    public SinkCatalog(IEnumerable<ReplicationSinkType> types)
    {
        _types = new Dictionary<string, ReplicationSinkType>(StringComparer.Ordinal);
        foreach (var t in types)
        {
            _types.TryAdd(t.Name, t);
        }
    }

    public IReadOnlyCollection<string> Names => _types.Keys.Order(StringComparer.Ordinal).ToList();

    public ReplicationSinkType? Find(string name) => _types.GetValueOrDefault(name);

    /// <summary>
    /// Reads the sink of <paramref name="definition"/>; throws <see cref="SinkSettingsException"/> naming the field, its
    /// message free of secret values.
    /// </summary>
    public PreparedSink Prepare(ReplicatorDefinition definition)
    {
        try
        {
            return PrepareCore(definition);
        }
        catch (SinkSettingsException ex)
        {
            throw new SinkSettingsException(ex.Field, SecretReferences.Scrub(ex.Message, definition.Secrets));
        }
    }

    /// <summary>
    /// <see cref="Prepare"/>, then the sink's own check of each target it can name now: the source topic's, each of
    /// <c>targets</c>, and the template applied to a sample topic of a namespace source.
    /// </summary>
    public async ValueTask<PreparedSink> PrepareAndCheckAsync(ReplicatorDefinition definition, SinkContext context, CancellationToken cancellationToken)
    {
        var prepared = Prepare(definition);
        var field = SinkSettings.PathOf(prepared.Type.TargetField);
        var checks = new List<(string Field, string Target)>();
        if (definition.Source.Topic is { } topic)
        {
            checks.Add((prepared.Targets?.ContainsKey(topic) == true ? "sink.targets." + topic : field, prepared.TargetFor(topic)!));
        }
        else
        {
            checks.AddRange((prepared.Targets ?? new Dictionary<TopicName, string>()).Select(t => ("sink.targets." + t.Key, t.Value)));
            if (prepared.Template is { } template)
            {
                checks.Add((field, template.Apply(new TopicName(definition.Source.Tenant, definition.Source.Namespace, "example"))));
            }
        }

        foreach (var (f, target) in checks)
        {
            if (await prepared.Type.CheckTargetAsync(prepared.Settings, target, context, cancellationToken).ConfigureAwait(false) is { } refused)
            {
                throw new SinkSettingsException(f, SecretReferences.Scrub($"{f}: {refused}", definition.Secrets));
            }
        }

        return prepared;
    }

    private PreparedSink PrepareCore(ReplicatorDefinition definition)
    {
        using var doc = JsonDocument.Parse(definition.SinkJson);
        var sink = doc.RootElement;
        if (sink.ValueKind != JsonValueKind.Object)
        {
            throw new SinkSettingsException("sink", "sink must be an object with a type");
        }

        if (!sink.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            throw new SinkSettingsException("sink.type", $"sink.type is required: one of {string.Join(", ", Names)}");
        }

        var type = Find(typeElement.GetString()!)
            ?? throw new SinkSettingsException("sink.type", $"sink.type must be one of {string.Join(", ", Names)}");
        var resolved = SecretReferences.Resolve(sink, definition.Secrets);

        var template = ReadTemplate(resolved, type.TargetField);
        var targets = ReadTargets(resolved, definition.Source);
        if (template is null && targets is null)
        {
            var f = SinkSettings.PathOf(type.TargetField);
            throw new SinkSettingsException(f, $"{f} is required (a name with {{tenant}}, {{namespace}} and {{topic}}), or sink.targets (topic to target)");
        }

        if (definition.Source.Topic is { } topic && template is null && !targets!.ContainsKey(topic))
        {
            throw new SinkSettingsException("sink.targets", $"sink.targets has no entry for the source topic {topic}, and sink.{type.TargetField} is not given");
        }

        var settings = new SinkSettings(resolved, ["type", "targets", type.TargetField]);
        var read = type.ReadSettings(settings);
        if (settings.Unread().FirstOrDefault() is { } unknown)
        {
            var f = SinkSettings.PathOf(unknown);
            throw new SinkSettingsException(f, $"{f} is not a setting of the {type.Name} sink");
        }

        return new PreparedSink(type, read, template, targets);
    }

    private static TargetTemplate? ReadTemplate(JsonElement sink, string field)
    {
        if (!sink.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var path = SinkSettings.PathOf(field);
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 and <= 2048 } text)
        {
            throw new SinkSettingsException(path, $"{path} must be a string of 1 to 2048 characters");
        }

        return TargetTemplate.TryParse(text, out var error) ?? throw new SinkSettingsException(path, $"{path} {error}");
    }

    private static Dictionary<TopicName, string>? ReadTargets(JsonElement sink, ReplicatorSource source)
    {
        if (!sink.TryGetProperty("targets", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SinkSettingsException("sink.targets", "sink.targets must be an object from topic (tenant/namespace/name) to target name");
        }

        var targets = new Dictionary<TopicName, string>();
        foreach (var p in value.EnumerateObject())
        {
            var path = "sink.targets." + p.Name;
            TopicName topic;
            try
            {
                topic = TopicName.Parse(p.Name);
            }
            catch (InvalidNameException ex)
            {
                throw new SinkSettingsException(path, $"{path}: the key is not a topic name: {ex.Message}");
            }

            if (!source.Covers(topic))
            {
                throw new SinkSettingsException(path, $"{path}: topic {topic} is not in the source {source}");
            }

            if (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() is not { Length: > 0 and <= 2048 } target)
            {
                throw new SinkSettingsException(path, $"{path} must be a string of 1 to 2048 characters");
            }

            targets[topic] = target;
        }

        return targets.Count == 0 ? throw new SinkSettingsException("sink.targets", "sink.targets must not be empty") : targets;
    }
}
