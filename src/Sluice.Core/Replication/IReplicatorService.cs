namespace Sluice.Core.Replication;

/// <summary>
/// Replicator registrations (durable, in <c>__sluice/system/replicators</c>) and, on a gateway that runs workers, the
/// replicators themselves. Checking a registration's settings is <see cref="SinkCatalog.PrepareAndCheckAsync"/>'s (the
/// caller's); authorisation is the caller's too.
/// </summary>
public interface IReplicatorService
{
    /// <summary>Loads registrations and starts every replicator not stopped (when this gateway runs workers).</summary>
    ValueTask StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops every replicator: writes in flight finish (bounded), the rest is released for the next start.</summary>
    ValueTask StopAsync(CancellationToken cancellationToken = default);

    /// <summary>In a fleet, applies what other members changed before this call (see <c>IWebhookService.SyncAsync</c>).</summary>
    ValueTask SyncAsync(CancellationToken cancellationToken = default);

    IReadOnlyList<ReplicatorDefinition> List();

    ReplicatorDefinition? Get(string name);

    /// <summary>Creates or replaces a replicator and (re)starts it unless it is stopped. Returns what was stored.</summary>
    ValueTask<ReplicatorDefinition> PutAsync(ReplicatorDefinition replicator, CancellationToken cancellationToken = default);

    /// <summary>Stops and removes the replicator and its subscriptions. False when unknown.</summary>
    ValueTask<bool> DeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Stops (persisted; the position is kept) or starts a replicator. Null when unknown.</summary>
    ValueTask<ReplicatorDefinition?> SetStoppedAsync(string name, bool stopped, CancellationToken cancellationToken = default);

    /// <summary>Stops and starts the replicator's workers (and its sink) on this gateway; starts it if it was stopped. Null when unknown.</summary>
    ValueTask<ReplicatorDefinition?> RestartAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a stopped replicator's position on every source topic (throws <see cref="ReplicatorNotStoppedException"/>
    /// while it runs). False when unknown.
    /// </summary>
    ValueTask<bool> SeekAsync(string name, ReplicatorSeek seek, CancellationToken cancellationToken = default);

    /// <summary>The replicator's status as this gateway sees it, or null when unknown.</summary>
    ValueTask<ReplicatorStatus?> GetStatusAsync(string name, CancellationToken cancellationToken = default);
}
