using Sluice.Server.Compat.Beam;
using Sluice.Server.Configuration;

namespace Sluice.Server.Compat;

/// <summary>
/// The compatibility APIs, each a thin translation onto the same core calls as Sluice's own routes: Pulsar Beam
/// (<see cref="BeamEndpoints"/>) and kateway (<see cref="Kateway.KatewayEndpoints"/>). The composition root calls
/// <see cref="AddServices"/>, <see cref="Listen"/>, <see cref="Use"/> and <see cref="Map"/>.
/// </summary>
internal static class CompatEndpoints
{
    public static void AddServices(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<CompatProducer>();
        if (options.BeamEnabled)
        {
            services.AddSingleton<BeamAccess>();
            services.AddSingleton<BeamDocumentStore>();
        }

        if (options.KatewayEnabled)
        {
            Kateway.KatewayEndpoints.AddServices(services);
        }
    }

    /// <summary>kateway's own ports, when configured (its pub, sub and admin servers).</summary>
    public static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, ServerOptions options)
    {
        if (options.KatewayEnabled)
        {
            Kateway.KatewayEndpoints.Listen(kestrel, options);
        }
    }

    /// <summary>Before routing: requests to kateway's own ports are routed under its prefix.</summary>
    public static void Use(WebApplication app, ServerOptions options)
    {
        if (options.KatewayEnabled)
        {
            Kateway.KatewayEndpoints.Use(app, options);
        }
    }

    public static void Map(WebApplication app, ServerOptions options)
    {
        if (options.BeamEnabled)
        {
            BeamEndpoints.Map(app);
        }

        if (options.KatewayEnabled)
        {
            Kateway.KatewayEndpoints.Map(app, options);
        }
    }
}
