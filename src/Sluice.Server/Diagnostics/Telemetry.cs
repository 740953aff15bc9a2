using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Sluice.Server.Configuration;
using Sluice.Server.Problems;
using Sluice.Server.Security;

namespace Sluice.Server.Diagnostics;

/// <summary>
/// Metrics and traces through OpenTelemetry's SDK, with System.Diagnostics.Metrics and ActivitySource as the sources:
/// <code>
///   meters Sluice, Sluice.Core, Sluice.Storage, Sluice.Replication, ASP.NET Core ──► GET /metrics (Prometheus text, always)
///                                                            ──► OTLP every otlp:exportIntervalMs (otlp:endpoint set)
///   activity sources Sluice, ASP.NET Core                    ──► OTLP (otlp:endpoint set; else nothing listens)
/// </code>
/// </summary>
internal static partial class Telemetry
{
    public const string MetricsPath = "/metrics";

    // Meters of the other projects (their classes are internal there).
    private const string CoreMeter = "Sluice.Core";
    private const string StorageMeter = "Sluice.Storage";
    private const string ReplicationMeter = "Sluice.Replication";

    public static void AddServices(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<SluiceMetrics>();
        services.AddSingleton<SubscriptionSampler>();
        var otel = services.AddOpenTelemetry().ConfigureResource(r => r.AddService(options.OtlpServiceName));
        otel.WithMetrics(metrics =>
        {
            metrics.AddMeter(SluiceMetrics.MeterName, CoreMeter, StorageMeter, ReplicationMeter, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel");

            // The delayed-message instruments (Sluice.Core) tag each measurement with its topic and cannot see the label
            // policy: the same policy as a view, the topic dropped unless metrics:labels keeps it, and at most
            // metrics:maxSeries label sets each (the SDK sums the rest into one overflow series).
            var labels = new MetricLabels(options.MetricsLabels, options.MetricsMaxSeries);
            metrics.AddView("sluice.delay.*", new MetricStreamConfiguration
            {
                CardinalityLimit = options.MetricsMaxSeries,
                TagKeys = labels.KeepTopic ? null : ["messaging.system"],
            });

            // Every scrape sees the counts of that moment (the exporter's default caches answers for 300 ms).
            metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            if (options.OtlpEndpoint is { } endpoint)
            {
                metrics.AddOtlpExporter((exporter, reader) =>
                {
                    Configure(exporter, options, endpoint, "/v1/metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.OtlpExportIntervalMs;
                });
            }
        });

        if (options.OtlpEndpoint is { } traces)
        {
            otel.WithTracing(tracing => tracing
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(options.OtlpSampleRatio)))
                .AddSource(MessageTracing.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsOperational(context.Request.Path))
                .AddOtlpExporter(exporter => Configure(exporter, options, traces, "/v1/traces")));
        }
    }

    /// <summary>
    /// <c>GET /metrics</c>. Public with <c>metrics:public</c>; otherwise (auth on) a superuser or a role of
    /// <c>metrics:roles</c>, checked here after <see cref="AccessMiddleware"/> authenticated the caller.
    /// </summary>
    public static void Map(WebApplication app, ServerOptions options)
    {
        var roles = options.MetricsRoles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        app.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use((context, next) =>
        {
            var caller = Caller.Of(context);
            if (options.MetricsPublic || caller is { IsSuperuser: true } || (caller is not null && caller.Roles.Any(roles.Contains)))
            {
                return next(context);
            }

            return ProblemWriter.WriteAsync(context, ProblemKind.Forbidden,
                "only superusers and the roles in metrics:roles may read /metrics (or set metrics:public)");
        }), optionsName: null)
            .WithMetadata(options.MetricsPublic ? AccessRule.Public : AccessRule.PerResource);
    }

    /// <summary>Says where OTLP goes, once at start (never the headers: collectors take credentials there).</summary>
    public static void LogExport(ILogger logger, ServerOptions options)
    {
        if (options.OtlpEndpoint is { } endpoint)
        {
            Log.OtlpEnabled(logger, endpoint, options.OtlpProtocol, options.OtlpServiceName, options.OtlpExportIntervalMs, options.OtlpSampleRatio);
        }
    }

    private static void Configure(OtlpExporterOptions exporter, ServerOptions options, string endpoint, string signalPath)
    {
        if (options.OtlpProtocol == "grpc")
        {
            exporter.Protocol = OtlpExportProtocol.Grpc;
            exporter.Endpoint = new Uri(endpoint);
        }
        else
        {
            // Set in code, the HTTP endpoint is the signal's full URL; otlp:endpoint is the base, as OTEL_EXPORTER_OTLP_ENDPOINT is.
            exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
            exporter.Endpoint = new Uri(endpoint + signalPath);
        }
    }

    // Scrapes and probes would drown the traces that matter.
    private static bool IsOperational(PathString path)
        => path.StartsWithSegments(MetricsPath) || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz");

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.OtlpEnabled, Level = LogLevel.Information,
            Message = "OpenTelemetry: traces and metrics to {Endpoint} ({Protocol}) as service {Service}, metrics every {IntervalMs} ms, sampling {Ratio}")]
        public static partial void OtlpEnabled(ILogger logger, string endpoint, string protocol, string service, int intervalMs, double ratio);
    }
}
