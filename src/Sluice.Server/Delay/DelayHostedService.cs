using Sluice.Core.Delay;

namespace Sluice.Server.Delay;

/// <summary>
/// Starts scheduling delayed messages with the host, and stops it when the host stops: before the log is closed, so each
/// partition's progress is written (and, in a fleet, its partitions are handed over at once).
/// </summary>
internal sealed class DelayHostedService(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => DelayServiceCollectionExtensions.StartAsync(services, cancellationToken).AsTask();

    public Task StopAsync(CancellationToken cancellationToken) => DelayServiceCollectionExtensions.StopAsync(services, cancellationToken).AsTask();
}
