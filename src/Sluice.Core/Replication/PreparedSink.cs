using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>A replicator's sink settings, read and checked: what the engine needs to make the sink and name targets.</summary>
public sealed class PreparedSink
{
    internal PreparedSink(ReplicationSinkType type, object settings, TargetTemplate? template, IReadOnlyDictionary<TopicName, string>? targets)
    {
        Type = type;
        Settings = settings;
        Template = template;
        Targets = targets;
    }

    public ReplicationSinkType Type { get; }

    /// <summary>What <see cref="ReplicationSinkType.ReadSettings"/> returned (secrets resolved: never show it).</summary>
    public object Settings { get; }

    public TargetTemplate? Template { get; }

    public IReadOnlyDictionary<TopicName, string>? Targets { get; }

    /// <summary>The target of a topic: its entry in <c>targets</c>, else the template applied; null when the topic has neither.</summary>
    public string? TargetFor(TopicName topic)
        => Targets is not null && Targets.TryGetValue(topic, out var explicitTarget) ? explicitTarget : Template?.Apply(topic);
}
