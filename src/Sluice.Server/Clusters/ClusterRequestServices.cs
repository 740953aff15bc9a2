using Microsoft.AspNetCore.Http.Features;

namespace Sluice.Server.Clusters;

/// <summary>
/// A request's services while it is served for a cluster other than the default: <c>RequestServices</c> answers with
/// the cluster's own services (its log, engine, directories, loggers) and with the request's usual ones for everything
/// else (the request scope is still created only if something asks for a shared service). Handlers that look their
/// services up per request so work on any cluster unchanged.
/// </summary>
internal sealed class ClusterRequestServices : IServiceProvidersFeature, IServiceProvider, IKeyedServiceProvider
{
    private readonly ClusterServiceProvider _cluster;
    private IServiceProvidersFeature _request;

    private ClusterRequestServices(ClusterServiceProvider cluster, IServiceProvidersFeature request)
    {
        _cluster = cluster;
        _request = request;
    }

    public IServiceProvider RequestServices
    {
        get => this;
        set => _request = new Fixed(value);
    }

    /// <summary>From here on, the request's services are <paramref name="cluster"/>'s.</summary>
    public static void Enter(HttpContext context, ClusterServiceProvider cluster)
    {
        // Not created yet when nothing has asked: then make the one the host would have, creating its scope lazily.
        var request = context.Features.Get<IServiceProvidersFeature>()
            ?? new RequestServicesFeature(context, cluster.HostScopes);
        context.Features.Set<IServiceProvidersFeature>(new ClusterRequestServices(cluster, request));
    }

    public object? GetService(Type serviceType)
    {
        if (serviceType == typeof(IServiceProvider))
        {
            return this;
        }

        return _cluster.TryGetOwn(serviceType, out var own) ? own : _request.RequestServices.GetService(serviceType);
    }

    public object? GetKeyedService(Type serviceType, object? serviceKey) => ((IKeyedServiceProvider)_request.RequestServices).GetKeyedService(serviceType, serviceKey);

    public object GetRequiredKeyedService(Type serviceType, object? serviceKey) => ((IKeyedServiceProvider)_request.RequestServices).GetRequiredKeyedService(serviceType, serviceKey);

    private sealed class Fixed(IServiceProvider services) : IServiceProvidersFeature
    {
        public IServiceProvider RequestServices { get; set; } = services;
    }
}
