namespace Sluice.Core.Replication;

/// <summary>Settings of the replication engine that apply to every replicator.</summary>
public sealed record ReplicationOptions
{
    /// <summary>
    /// Whether this gateway runs replicators (role <c>workers</c>). A gateway without it still stores and shows them;
    /// another member of the fleet runs them.
    /// </summary>
    public bool RunWorkers { get; set; } = true;

    /// <summary>How often a namespace source looks for topics created since (2 s: "within seconds", one topic listing per look).</summary>
    public TimeSpan DiscoveryInterval { get; set; } = TimeSpan.FromSeconds(2);
}
