using System.Collections.Frozen;
using Microsoft.AspNetCore.Routing.Patterns;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;

namespace Sluice.Server.Clusters;

/// <summary>
/// Sluice's own API once more for each cluster, below <c>/v1/clusters/{name}</c> (<c>.../topics/...</c>,
/// <c>.../webhooks</c>, <c>.../replicators</c>), beside the default routes, which are unchanged; <c>GET /v1/clusters</c>;
/// and 404 <c>cluster-not-found</c> for a name that is not configured.
/// <code>
///   /v1/clusters/east/topics/... ──► mapped with east's services (those looked up once at map time: produce)
///                                └─► per request: RequestServices answers with east's (those looked up per request)
/// </code>
/// Each cluster's routes are the same handlers, mapped again: no lookup per request on the way to them. Their endpoint
/// names carry the cluster (<c>Produce@east</c>) and keep their route's access rule; they are left out of the OpenAPI
/// document, which describes the default routes.
/// </summary>
internal static class ClusterRoutes
{
    public const string Prefix = "/v1/clusters";

    /// <summary><paramref name="mapApi"/> maps the API's routes below the builder it is given (as it does below <c>/v1</c>).</summary>
    public static void Map(WebApplication app, ClusterSet clusters, Action<IEndpointRouteBuilder> mapApi)
    {
        foreach (var cluster in clusters.All)
        {
            var group = app.MapGroup(Prefix + "/" + cluster.Name).ExcludeFromDescription();
            var name = cluster.Name;
            var own = cluster.Own;
            ((IEndpointConventionBuilder)group).Finally(endpoint => Rename(endpoint, name));
            if (own is not null)
            {
                ((IEndpointConventionBuilder)group).Finally(endpoint => ServeWith(endpoint, own));
            }

            mapApi(own is null ? group : new ClusterRouteBuilder(group, own));
        }

        app.MapGet(Prefix, (Func<HttpContext, Task>)(context => ListAsync(context, clusters)))
            .WithName("ListClusters")
            .WithTags("clusters")
            .WithSummary("The clusters this server serves (on the embedded log: default), with their Kafka bootstrap servers for superusers")
            .Produces<ClusterListResponse>()
            .WithMetadata(AccessRule.PerResource);

        // Only names that are not configured match: a configured cluster's unknown path or wrong method gets routing's
        // own 404 or 405.
        var names = clusters.Names.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        var unknown = RoutePatternFactory.Parse(Prefix + "/{cluster}/{**rest}", defaults: null, parameterPolicies: new { cluster = new UnknownCluster(names) });
        app.Map(unknown, context =>
            {
                var name = context.Request.RouteValues["cluster"] as string ?? "";
                return ProblemWriter.WriteAsync(context, ProblemKind.ClusterNotFound, clusters.Unknown(name));
            })
            .WithName("UnknownCluster")
            .WithMetadata(AccessRule.PerResource)
            .ExcludeFromDescription();
    }

    private static Task ListAsync(HttpContext context, ClusterSet clusters)
    {
        // Broker addresses are operators' business: superusers see them (everyone, with authentication off).
        var withBootstrap = Access.IsSuperuser(context);
        var list = clusters.All.Select(c => new ClusterResponse(c.Name, withBootstrap ? c.Get<Backend>().KafkaBootstrap : null)).ToList();
        return context.Response.WriteAsJsonAsync(new ClusterListResponse(list), SluiceJsonContext.Api.ClusterListResponse);
    }

    // Duplicate endpoint names would break anything that looks endpoints up by name; the access rule was found by name.
    private static void Rename(EndpointBuilder endpoint, string cluster)
    {
        var metadata = endpoint.Metadata;
        for (var i = 0; i < metadata.Count; i++)
        {
            if (metadata[i] is IEndpointNameMetadata name)
            {
                if (!metadata.OfType<AccessRule>().Any() && AccessRules.ForName(name.EndpointName) is { } rule)
                {
                    metadata.Add(rule);
                }

                metadata[i] = new EndpointNameMetadata(name.EndpointName + "@" + cluster);
            }
            else if (metadata[i] is IRouteNameMetadata route && route.RouteName is { } routeName)
            {
                metadata[i] = new RouteNameMetadata(routeName + "@" + cluster);
            }
        }
    }

    private static void ServeWith(EndpointBuilder endpoint, ClusterServiceProvider cluster)
    {
        if (endpoint.RequestDelegate is not { } handler)
        {
            return;
        }

        endpoint.RequestDelegate = context =>
        {
            ClusterRequestServices.Enter(context, cluster);
            return handler(context);
        };
    }

    // Matches a {cluster} value that is not a configured cluster's name.
    private sealed class UnknownCluster(FrozenSet<string> names) : IRouteConstraint
    {
        public bool Match(HttpContext? httpContext, IRouter? route, string routeKey, RouteValueDictionary values, RouteDirection routeDirection)
            => values.TryGetValue(routeKey, out var value) && value is string name && !names.Contains(name);
    }

    // The cluster's route group, whose ServiceProvider is the cluster's: endpoints that resolve their dependencies once,
    // when mapped (produce), get the cluster's.
    private sealed class ClusterRouteBuilder(IEndpointRouteBuilder group, IServiceProvider services) : IEndpointRouteBuilder
    {
        public IServiceProvider ServiceProvider => services;

        public ICollection<EndpointDataSource> DataSources => group.DataSources;

        public IApplicationBuilder CreateApplicationBuilder() => group.CreateApplicationBuilder();
    }
}
