using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Kafka;

/// <summary>DI wiring of Sluice.Kafka.</summary>
public static class SluiceKafkaServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="KafkaPartitionCoordinator"/> (call before <c>AddSluiceCore</c>) and the options. The
    /// host opens the <see cref="KafkaLog"/> and registers it as the <see cref="IMessageLog"/>; the coordinator asks it
    /// for the bootstrap servers at each join.
    /// </summary>
    public static IServiceCollection AddSluiceKafka(this IServiceCollection services, KafkaLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(options);
        // Everything from sp, not the arguments: a host serving several clusters calls this factory again with each
        // cluster's services (its options, its log).
        services.TryAddSingleton<IPartitionCoordinator>(sp =>
        {
            var clusterOptions = sp.GetRequiredService<KafkaLogOptions>();
            return new KafkaPartitionCoordinator(
                clusterOptions,
                () => sp.GetRequiredService<IMessageLog>() is KafkaLog log ? log.BootstrapServers : clusterOptions.BootstrapServers,
                sp.GetRequiredService<ILogger<KafkaPartitionCoordinator>>());
        });
        return services;
    }
}
