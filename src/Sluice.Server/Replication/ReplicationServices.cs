using Sluice.Core.Replication;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Replication;

/// <summary>
/// Composition of replication: the sink types found beside the server, the engine (<c>AddSluiceReplication</c>, run only
/// with role <c>workers</c>), the SSRF guard offered to sinks, and the hosted service that starts and stops replicators.
/// Also the <c>roles</c> gate: an instance without role <c>http</c> answers only <c>/healthz</c>, <c>/readyz</c>,
/// <c>/openapi</c> and <c>/metrics</c>.
/// </summary>
internal static partial class ReplicationServices
{
    public static SinkDiscovery.Result Add(IServiceCollection services, ServerOptions options)
    {
        var found = SinkDiscovery.Discover(AppContext.BaseDirectory);
        foreach (var type in found.Types)
        {
            services.AddSingleton(type);
        }

        services.AddSingleton<IOutboundAddressPolicy, OutboundAddressPolicy>();
        services.AddSluiceReplication(o => o.RunWorkers = options.RunsWorkers);
        services.AddHostedService<ReplicatorHostedService>();
        return found;
    }

    public static void Use(WebApplication app, ServerOptions options, SinkDiscovery.Result sinks)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Replication");
        foreach (var problem in sinks.Problems)
        {
            Log.SinkAssemblyFailed(logger, problem);
        }

        Log.SinkTypesFound(logger, string.Join(", ", sinks.Types.Select(t => t.Name)));
        Log.Roles(logger, string.Join(",", options.Roles.Order(StringComparer.Ordinal)));
        if (options.ServesHttp)
        {
            return;
        }

        app.Use((context, next) =>
        {
            var path = context.Request.Path;
            // Workers are scraped too: their webhook, replicator and storage metrics exist only there.
            if (path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz") || path.StartsWithSegments("/openapi")
                || path.StartsWithSegments(Diagnostics.Telemetry.MetricsPath))
            {
                return next(context);
            }

            return ProblemWriter.WriteAsync(context, ProblemKind.NotServedHere,
                "this instance runs replicators and webhooks only (roles: workers); send API requests to an instance with role http");
        });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.SinkAssemblyFailed, Level = LogLevel.Error, Message = "A sink assembly could not be used: {Problem}")]
        public static partial void SinkAssemblyFailed(ILogger logger, string problem);

        [LoggerMessage(EventId = LogEvents.SinkTypesFound, Level = LogLevel.Information, Message = "Replicator sink types: {Types}")]
        public static partial void SinkTypesFound(ILogger logger, string types);

        [LoggerMessage(EventId = LogEvents.RolesConfigured, Level = LogLevel.Information, Message = "Roles of this instance: {Roles}")]
        public static partial void Roles(ILogger logger, string roles);
    }
}
