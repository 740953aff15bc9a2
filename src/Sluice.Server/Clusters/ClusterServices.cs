using System.Collections.Frozen;
using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Replication;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;
using Sluice.Kafka;
using Sluice.Server.Compat.Pixy;
using Sluice.Server.Configuration;
using Sluice.Server.Hosting;
using Sluice.Server.Produce;
using Sluice.Server.Security;
using Sluice.Server.Streaming;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;

namespace Sluice.Server.Clusters;

/// <summary>
/// Composition of several clusters. The host registers one set of services, which is the default cluster's; this
/// gives every other configured Kafka cluster its own copy of those that hold a cluster's data or state
/// (<see cref="Owned"/>), as keyed singletons of the same container, built the way the default one is (same type or
/// factory) but resolved through that cluster's <see cref="ClusterServiceProvider"/>. So each has its own log, engine,
/// webhooks, replicators, topic directory and the rest, with their state topics in their own cluster, and they are
/// disposed with the host. A hosted service that takes one of them (webhooks, replicators) runs once per cluster.
/// Everything else (options, security, metrics, the webhook transport, the sink types) is shared.
/// </summary>
internal static class ClusterServices
{
    // The services each cluster has its own of. A concrete type registered beside one of these interfaces
    // (SubscriptionService beside ISubscriptionService) is a cluster's own too. A new per-cluster service adds a line.
    private static readonly Type[] Owned =
    [
        typeof(Backend),
        typeof(IMessageLog),
        typeof(KafkaLogOptions),
        typeof(IPartitionCoordinator),
        typeof(ISubscriptionService),
        typeof(IWebhookService),
        typeof(IReplicatorService),
        typeof(TopicDirectory),
        typeof(SubscriptionDirectory),
        typeof(PendingAppends),
        typeof(StreamRegistry),
        typeof(TenantQuotas),
        typeof(PixyGateway),
        typeof(IDelayService),
    ];

    // Hosted services that run once per cluster although their constructor takes no owned type (they resolve what they
    // start from the provider they are given). Those taking an owned type (webhooks, replicators) are found alone.
    private static readonly Type[] PerClusterHostedServices = [typeof(Delay.DelayHostedService)];

    /// <summary>The configured clusters besides <c>default</c>: Kafka's named clusters (the embedded log has one).</summary>
    public static IReadOnlyList<string> OtherNames(ServerOptions options)
        => options.IsKafka ? [.. options.KafkaClusters.Keys.Where(n => n != ClusterSet.DefaultName).Order(StringComparer.Ordinal)] : [];

    /// <summary>Call last, once every other service is registered: it copies the registrations it finds.</summary>
    public static void Add(IServiceCollection services, ServerOptions options)
    {
        var registered = services.Where(d => !d.IsKeyedService).ToList();
        var owned = Owned.Where(t => registered.Any(d => d.ServiceType == t)).ToHashSet();
        foreach (var d in registered)
        {
            if (d.ServiceType is { IsClass: true, IsAbstract: false } type && Owned.Any(o => o.IsInterface && o.IsAssignableFrom(type)))
            {
                owned.Add(type);
            }
        }

        var ownedSet = owned.ToFrozenSet();
        services.AddSingleton(new ClusterOwnership(ownedSet));
        services.AddSingleton<ClusterSet>();
        foreach (var name in OtherNames(options))
        {
            foreach (var type in ownedSet)
            {
                if (type == typeof(KafkaLogOptions))
                {
                    services.AddKeyedSingleton(type, name, Backend.KafkaOptionsFor(options, name));
                    continue;
                }

                var descriptor = registered.Last(d => d.ServiceType == type);
                if (descriptor.Lifetime != ServiceLifetime.Singleton || (descriptor.ImplementationType is null && descriptor.ImplementationFactory is null))
                {
                    throw new InvalidOperationException($"{type} must be a singleton registered by type or factory to have a copy per cluster");
                }

                services.AddKeyedSingleton(type, name, (host, key) => Create(descriptor, host.GetRequiredService<ClusterSet>().Get((string)key!).Services));
            }

            foreach (var d in registered)
            {
                if (d.ServiceType == typeof(IHostedService) && d.ImplementationType is { } hosted && (TakesOwned(hosted, ownedSet) || PerClusterHostedServices.Contains(hosted)))
                {
                    var cluster = name;
                    services.AddSingleton<IHostedService>(host => (IHostedService)ActivatorUtilities.CreateInstance(host.GetRequiredService<ClusterSet>().Get(cluster).Services, hosted));
                }
            }
        }
    }

    private static object Create(ServiceDescriptor descriptor, IServiceProvider cluster)
        => descriptor.ImplementationFactory is { } factory ? factory(cluster) : ActivatorUtilities.CreateInstance(cluster, descriptor.ImplementationType!);

    private static bool TakesOwned(Type type, FrozenSet<Type> owned)
        => type.GetConstructors().Any(c => c.GetParameters().Any(p => owned.Contains(p.ParameterType)));
}

/// <summary>The service types each cluster has its own of, as <see cref="ClusterServices"/> found them registered.</summary>
internal sealed record ClusterOwnership(FrozenSet<Type> Types);
