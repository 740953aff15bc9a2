namespace Sluice.Core.Replication;

/// <summary>
/// A kind of target (<c>"type"</c> in a replicator's <c>sink</c>): the whole of what a sink project provides. Name it
/// in the sink assembly with <c>[assembly: ReplicationSink(typeof(MySinkType))]</c>; the gateway finds it at start.
/// </summary>
/// <remarks>
/// The engine does the rest for every sink: the <c>type</c> and <c>targets</c> fields, the target template field
/// (<see cref="TargetField"/>, with <c>{tenant}</c>, <c>{namespace}</c>, <c>{topic}</c>), <c>${secret:name}</c>
/// references (resolved before <see cref="ReadSettings"/> sees the values), unknown fields (any field the sink did not
/// read is refused), batching, ordering, retries, dead letters, positions, status and metrics.
/// </remarks>
public abstract class ReplicationSinkType
{
    /// <summary>The <c>type</c> value, such as <c>http</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The settings field that names the target, as a template (<c>table</c>, <c>url</c>, <c>subject</c>).</summary>
    public abstract string TargetField { get; }

    /// <summary>
    /// Reads and checks the sink's settings (secrets already resolved), throwing <see cref="SinkSettingsException"/>
    /// (through <see cref="SinkSettings.Fail"/>) naming the field. Returns what <see cref="CreateSink"/> needs.
    /// </summary>
    public abstract object ReadSettings(SinkSettings settings);

    /// <summary>
    /// Checks one resolved target name (a URL, a table name) at registration and when a topic is picked up, with I/O if
    /// needed (resolving a host for the SSRF guard). Returns why it is refused, or null.
    /// </summary>
    public virtual ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult<string?>(null);

    /// <summary>Makes the replicator's sink; no I/O should be needed (connect lazily, in <see cref="IReplicationSink.WriteAsync"/>).</summary>
    public abstract IReplicationSink CreateSink(object settings, SinkContext context);
}
