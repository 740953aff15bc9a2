using Sluice.Core.Webhooks;

namespace Sluice.Server.Webhooks;

/// <summary>
/// Starts the dispatchers with the host, and stops them when it stops: before the engine's final flush, so the acks of
/// calls that finish during shutdown are written.
/// </summary>
internal sealed class WebhookHostedService(IWebhookService webhooks) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => webhooks.StartAsync(cancellationToken).AsTask();

    public Task StopAsync(CancellationToken cancellationToken) => webhooks.StopAsync(cancellationToken).AsTask();
}
