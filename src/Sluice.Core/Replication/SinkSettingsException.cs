namespace Sluice.Core.Replication;

/// <summary>A replicator setting is missing, unknown or out of range (HTTP 400 naming <see cref="Field"/>).</summary>
public sealed class SinkSettingsException(string field, string message) : Exception(message)
{
    /// <summary>The field's path in the request, such as <c>sink.table</c> or <c>batch.maxRecords</c>.</summary>
    public string Field { get; } = field;
}
