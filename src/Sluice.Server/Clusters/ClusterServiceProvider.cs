using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Sluice.Server.Clusters;

/// <summary>
/// The services of a cluster other than the default, as one provider: its own (<see cref="ClusterServices"/>: held by
/// the host's container as keyed singletons, the key being the cluster's name) and its loggers, which name it; every
/// other service is the host's, shared by all clusters. Cluster services are constructed with this provider, so their
/// dependencies are the cluster's too, and so are those of anything they resolve later (a replicator's sink asking for
/// services).
/// </summary>
internal sealed class ClusterServiceProvider : IServiceProvider, IKeyedServiceProvider, IServiceProviderIsService
{
    private readonly IKeyedServiceProvider _host;
    private readonly IServiceProviderIsService? _hostIsService;
    private readonly FrozenSet<Type> _owned;
    private readonly ClusterLoggerFactory _loggers;
    private readonly ConcurrentDictionary<Type, object> _typedLoggers = new();

    public ClusterServiceProvider(string name, IServiceProvider host, FrozenSet<Type> owned)
    {
        Name = name;
        _host = host as IKeyedServiceProvider ?? throw new ArgumentException("the host's provider must support keyed services", nameof(host));
        _hostIsService = host.GetService<IServiceProviderIsService>();
        _owned = owned;
        _loggers = new ClusterLoggerFactory(host.GetRequiredService<ILoggerFactory>(), name);
        HostScopes = host.GetRequiredService<IServiceScopeFactory>();
    }

    public string Name { get; }

    /// <summary>The host's scopes: a request served for this cluster has one as usual, for the shared services.</summary>
    public IServiceScopeFactory HostScopes { get; }

    public ILoggerFactory LoggerFactory => _loggers;

    /// <summary>Answers for what this cluster has of its own: its services and its loggers. False for a shared service.</summary>
    public bool TryGetOwn(Type serviceType, out object? service)
    {
        if (serviceType == typeof(ILoggerFactory))
        {
            service = _loggers;
            return true;
        }

        if (serviceType.IsConstructedGenericType && serviceType.GetGenericTypeDefinition() == typeof(ILogger<>))
        {
            service = _typedLoggers.GetOrAdd(serviceType, static (type, loggers) => Activator.CreateInstance(typeof(Logger<>).MakeGenericType(type.GenericTypeArguments), loggers)!, _loggers);
            return true;
        }

        if (_owned.Contains(serviceType))
        {
            service = _host.GetRequiredKeyedService(serviceType, Name);
            return true;
        }

        service = null;
        return false;
    }

    public object? GetService(Type serviceType)
    {
        if (serviceType == typeof(IServiceProvider) || serviceType == typeof(IKeyedServiceProvider) || serviceType == typeof(IServiceProviderIsService))
        {
            return this;
        }

        return TryGetOwn(serviceType, out var own) ? own : _host.GetService(serviceType);
    }

    public object? GetKeyedService(Type serviceType, object? serviceKey) => _host.GetKeyedService(serviceType, serviceKey);

    public object GetRequiredKeyedService(Type serviceType, object? serviceKey) => _host.GetRequiredKeyedService(serviceType, serviceKey);

    public bool IsService(Type serviceType)
        => serviceType == typeof(IServiceProvider) || _owned.Contains(serviceType) || _hostIsService?.IsService(serviceType) == true;
}
