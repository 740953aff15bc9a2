using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Sluice.Server.Compat.Pixy;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Security;

namespace Sluice.Server.Grpc;

/// <summary>
/// The gRPC listener (<c>grpc:port</c>, HTTP/2 only: h2c, or TLS with the server's certificate) with Kafka-Pixy's
/// service, Sluice's own, gRPC health and reflection; and Kafka-Pixy's REST routes on the main port and, when
/// <c>pixy:port</c> is set, on a port of their own. Each port answers only what belongs to it.
/// </summary>
internal static partial class GrpcHosting
{
    public static void AddServices(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<PixyGateway>();
        if (options.GrpcPort == 0)
        {
            return;
        }

        services.AddSingleton<ClusterInterceptor>();
        services.AddGrpc(o =>
        {
            o.Interceptors.Add<ClusterInterceptor>();
            // A client-streamed or unary batch may be as large as an HTTP batch; the body-size limit of the
            // main port does not apply to this listener (see UsePorts).
            o.MaxReceiveMessageSize = options.MaxBatchBytes + Backend.RecordOverheadBytes;
            o.EnableDetailedErrors = false;
        });
        services.AddGrpcHealthChecks().AddCheck<ReadinessHealthCheck>("ready");
        services.AddGrpcReflection();
    }

    public static void Listen(KestrelServerOptions kestrel, ServerOptions options)
    {
        var address = IPAddress.Parse(options.Bind);
        if (options.GrpcPort != 0)
        {
            kestrel.Listen(address, options.GrpcPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (TlsListener.Enabled(options))
                {
                    listen.UseHttps(TlsListener.HttpsOptions(options));
                }
            });
        }

        if (options.PixyPort != 0)
        {
            kestrel.Listen(address, options.PixyPort, listen =>
            {
                if (TlsListener.Enabled(options))
                {
                    listen.UseHttps(TlsListener.HttpsOptions(options));
                }
            });
        }
    }

    /// <summary>Before routing: the gRPC port serves gRPC only (without the main port's body limit), the Pixy port Pixy's routes only.</summary>
    public static void UsePorts(WebApplication app, ServerOptions options)
    {
        if (options.GrpcPort == 0 && options.PixyPort == 0)
        {
            return;
        }

        app.Use((context, next) =>
        {
            var port = context.Connection.LocalPort;
            if (options.IsGrpcPort(port))
            {
                if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
                {
                    return ProblemWriter.WriteAsync(context, ProblemKind.RouteNotFound, $"port {port} serves gRPC only; the HTTP API is on port {options.Port}");
                }

                context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = null;
            }
            else if (options.IsPixyPort(port) && !IsPixyPath(context.Request.Path))
            {
                return ProblemWriter.WriteAsync(context, ProblemKind.RouteNotFound, $"port {port} serves Kafka-Pixy's REST routes only; the HTTP API is on port {options.Port}");
            }

            return next(context);
        });
    }

    public static void Map(WebApplication app, ServerOptions options)
    {
        PixyRestEndpoints.Map(app);
        if (options.GrpcPort == 0)
        {
            return;
        }

        var host = $"*:{options.GrpcPort}";
        app.MapGrpcService<PixyGrpcService>().RequireHost(host).WithMetadata(AccessRule.PerResource);
        app.MapGrpcService<SluiceGrpcService>().RequireHost(host).WithMetadata(AccessRule.PerResource);
        app.MapGrpcHealthChecksService().RequireHost(host).WithMetadata(AccessRule.Public);
        app.MapGrpcReflectionService().RequireHost(host).WithMetadata(AccessRule.Public);
        Log.Listening(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Grpc"), TlsListener.Enabled(options) ? "TLS" : "h2c", options.Bind, options.GrpcPort);
    }

    private static bool IsPixyPath(PathString path)
        => path.StartsWithSegments("/topics") || path.StartsWithSegments("/clusters") || path.StartsWithSegments("/_ping");

    private sealed class ReadinessHealthCheck(Readiness readiness) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(readiness.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("not ready"));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.GrpcListening, Level = LogLevel.Information,
            Message = "gRPC ({Transport}) on {Bind}:{Port}: sluice.v1.Sluice, KafkaPixy, health, reflection")]
        public static partial void Listening(ILogger logger, string transport, string bind, int port);
    }
}
