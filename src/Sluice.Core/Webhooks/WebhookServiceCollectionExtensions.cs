using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Sluice.Core.Webhooks;

/// <summary>DI wiring of the webhook dispatcher.</summary>
public static class WebhookServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IWebhookService"/>. Needs <see cref="SluiceCoreServiceCollectionExtensions.AddSluiceCore"/>
    /// and an <see cref="IWebhookTransport"/> registered by the host.
    /// </summary>
    public static IServiceCollection AddSluiceWebhooks(this IServiceCollection services, Action<WebhookOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<WebhookOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IWebhookService, WebhookService>();
        return services;
    }
}
