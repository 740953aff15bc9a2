using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Sluice.Core.Replication;

/// <summary>DI wiring of the replication engine.</summary>
public static class ReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IReplicatorService"/> and the <see cref="SinkCatalog"/> of every registered
    /// <see cref="ReplicationSinkType"/>. Needs <see cref="SluiceCoreServiceCollectionExtensions.AddSluiceCore"/>.
    /// </summary>
    public static IServiceCollection AddSluiceReplication(this IServiceCollection services, Action<ReplicationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ReplicationOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new SinkCatalog(sp.GetServices<ReplicationSinkType>()));
        services.TryAddSingleton<IReplicatorService, ReplicatorService>();
        return services;
    }
}
