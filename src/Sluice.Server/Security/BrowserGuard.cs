using Microsoft.AspNetCore.Cors.Infrastructure;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Security;

/// <summary>
/// Host names, origins and CORS, in front of routing:
/// <code>
///   Host not served (DNS rebinding) ──► 421 host-not-allowed (but /healthz and /readyz, for probes by IP)
///   auth off and Origin neither this server nor an allowed origin (fetch, a text/plain POST, EventSource,
///   a WebSocket upgrade) ──► 403 origin-not-allowed, nothing done
///   CORS (cors:allowedOrigins set) ──► preflights answered; allowed origins get Access-Control-Allow-Origin
/// </code>
/// Requests without an Origin (curl, servers, SDKs) pass, as do pages the gateway serves itself (same origin).
/// </summary>
internal static partial class BrowserGuard
{
    public const string CorsPolicy = "sluice";

    public static void Add(IServiceCollection services, ServerOptions options)
    {
        var access = new BrowserAccess(options);
        services.AddSingleton(access);
        if (access.Origins.Length == 0)
        {
            return;
        }

        services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy =>
        {
            if (access.AnyOrigin)
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins(access.Origins);
            }

            policy.AllowAnyMethod().AllowAnyHeader()
                .WithExposedHeaders(BrowserAccess.Split(options.CorsExposedHeaders))
                .SetPreflightMaxAge(TimeSpan.FromSeconds(options.CorsMaxAgeSeconds));
            if (options.CorsAllowCredentials)
            {
                policy.AllowCredentials();
            }
        }));
    }

    public static void Use(WebApplication app)
    {
        var access = app.Services.GetRequiredService<BrowserAccess>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Security.BrowserGuard");
        app.Use((context, next) =>
        {
            var request = context.Request;

            // Probes (load balancers, orchestrators) address the server by IP; these two answer nothing worth rebinding for.
            if (!access.AllowsHost(request.Host.Value ?? "") && !(request.Path.Equals("/healthz") || request.Path.Equals("/readyz")))
            {
                Log.HostRefused(logger, ProblemWriter.Printable(request.Host.Value, 100));
                return ProblemWriter.WriteAsync(context, ProblemKind.HostNotAllowed,
                    $"this server does not answer for host '{ProblemWriter.Printable(request.Host.Host, 100)}'; it serves {string.Join(", ", access.Hosts)} (set allowedHosts)");
            }

            if (access.RefuseCrossOrigin && request.Headers.Origin is { Count: > 0 } origins)
            {
                var origin = origins.ToString();
                if (!IsSameOrigin(request, origin) && !access.AllowsOrigin(origin))
                {
                    Log.CrossOriginRefused(logger, ProblemWriter.Printable(origin, 100), request.Method, ProblemWriter.Printable(request.Path.Value, 200));
                    return ProblemWriter.WriteAsync(context, ProblemKind.OriginNotAllowed,
                        $"requests from web pages of origin '{ProblemWriter.Printable(origin, 100)}' are refused while authentication is off; allow the origin with cors:allowedOrigins, or turn on auth");
                }
            }

            return next(context);
        });

        if (access.Origins.Length > 0)
        {
            app.UseCors(CorsPolicy);
        }
    }

    // A page the gateway serves itself: the Origin is this very scheme, host and port (the host already passed the check).
    private static bool IsSameOrigin(HttpRequest request, string origin)
        => Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.HostRefused, Level = LogLevel.Information, Message = "Refused a request for host {Host}: not in allowedHosts")]
        public static partial void HostRefused(ILogger logger, string host);

        [LoggerMessage(EventId = LogEvents.CrossOriginRefused, Level = LogLevel.Information, Message = "Refused {Method} {Path} from a page of origin {Origin} (auth is off and the origin is not allowed)")]
        public static partial void CrossOriginRefused(ILogger logger, string origin, string method, string path);
    }
}
