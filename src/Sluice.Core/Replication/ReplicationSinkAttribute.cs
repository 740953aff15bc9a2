namespace Sluice.Core.Replication;

/// <summary>Names a <see cref="ReplicationSinkType"/> (public, parameterless constructor) that this assembly provides.</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class ReplicationSinkAttribute(Type sinkType) : Attribute
{
    public Type SinkType { get; } = sinkType;
}
