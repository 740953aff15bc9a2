using Sluice.Core.Replication;

namespace Sluice.Server.Replication;

/// <summary>
/// Starts the replicators with the host and stops them when it stops: before the engine's final flush, so the acks of
/// writes that finish during shutdown are written.
/// </summary>
internal sealed class ReplicatorHostedService(IReplicatorService replicators) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => replicators.StartAsync(cancellationToken).AsTask();

    public Task StopAsync(CancellationToken cancellationToken) => replicators.StopAsync(cancellationToken).AsTask();
}
