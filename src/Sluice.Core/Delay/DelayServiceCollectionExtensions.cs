using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Sluice.Core.Delay;

/// <summary>DI wiring of delayed messages.</summary>
public static class DelayServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IDelayService"/>. Needs <see cref="SluiceCoreServiceCollectionExtensions.AddSluiceCore"/> (the
    /// log, the coordinator, logging). The host starts it with <see cref="StartAsync"/> and stops it with
    /// <see cref="StopAsync"/> before the log is closed (stopping writes every partition's progress).
    /// </summary>
    public static IServiceCollection AddSluiceDelays(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DelayService>();
        services.TryAddSingleton<IDelayService>(sp => sp.GetRequiredService<DelayService>());
        return services;
    }

    /// <summary>Loads the registry of holding topics and starts scheduling their partitions.</summary>
    public static ValueTask StartAsync(IServiceProvider services, CancellationToken cancellationToken)
        => services.GetRequiredService<DelayService>().StartAsync(cancellationToken);

    /// <summary>Stops scheduling, writing each partition's progress (in a fleet, hands the partitions over).</summary>
    public static ValueTask StopAsync(IServiceProvider services, CancellationToken cancellationToken)
        => services.GetRequiredService<DelayService>().StopAsync(cancellationToken);
}
