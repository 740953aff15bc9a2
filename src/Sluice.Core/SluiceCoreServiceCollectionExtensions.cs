using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;

namespace Sluice.Core;

/// <summary>DI wiring of Sluice.Core.</summary>
public static class SluiceCoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the delivery engine as the singleton <see cref="ISubscriptionService"/> with its
    /// <see cref="DeliveryOptions"/> (validated on start). Needs an <see cref="Log.IMessageLog"/> and logging registered by
    /// the host; adds <see cref="TimeProvider.System"/> unless a <see cref="TimeProvider"/> is registered. The engine loads
    /// its durable state on first use; disposing the container flushes cursors. A backend shared by a fleet (Kafka)
    /// registers its own <see cref="IPartitionCoordinator"/> before calling this.
    /// </summary>
    public static IServiceCollection AddSluiceCore(this IServiceCollection services, Action<DeliveryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<DeliveryOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeliveryOptions>, DeliveryOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPartitionCoordinator, LocalPartitionCoordinator>();
        services.TryAddSingleton<SubscriptionService>();
        services.TryAddSingleton<ISubscriptionService>(sp => sp.GetRequiredService<SubscriptionService>());
        return services;
    }

    // Reports DeliveryOptions.Validate's reason, which OptionsBuilder.Validate(predicate) cannot.
    private sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
    {
        public ValidateOptionsResult Validate(string? name, DeliveryOptions options)
            => options.Validate() is { } reason ? ValidateOptionsResult.Fail(reason) : ValidateOptionsResult.Success;
    }
}
