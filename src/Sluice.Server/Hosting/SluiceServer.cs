using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;
using Sluice.Server.Clusters;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;
using Sluice.Server.Produce;
using Sluice.Server.Replication;
using Sluice.Server.Security;
using Sluice.Server.Streaming;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Hosting;

/// <summary>
/// Builds and runs the server. Shutdown (SIGTERM or Ctrl+C):
/// <code>
///   not ready ──► Kestrel stops accepting, long-polls end, in-flight requests finish (shutdownTimeoutMs)
///             ──► async produces finish ──► engine FlushAsync
///             ──► engine disposed ──► log disposed
/// </code>
/// </summary>
internal static partial class SluiceServer
{
    public static async Task<int> RunAsync(ServerOptions options, string? configFile)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);

        // ASP.NET Core logs every request at Information: far too much on the produce hot path.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Off entirely: while this category is on at any level, ASP.NET Core starts an Activity and a logging scope for every
        // request (for log correlation), even with tracing off. Its request logs are below Warning anyway, and a failed start
        // is logged by Sluice itself (Sluice.Server, "Cannot start the server"). With tracing on, the Activity is still made.
        // Measured: 0.5 to 0.8 KiB less resident memory per open connection (idle SSE and keep-alive alike).
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

        // Kestrel's socket transport, scheduled per port (ServerOptions.InlineIo): registered after Kestrel's own, so
        // Kestrel binds every TCP endpoint with it.
        builder.Services.AddSingleton(sp => new ListenerTransports(options, sp.GetRequiredService<IOptionsFactory<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>>(), sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(sp => sp.GetRequiredService<ListenerTransports>());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Parse(options.Bind), options.Port, listen =>
            {
                if (TlsListener.Enabled(options))
                {
                    listen.UseHttps(TlsListener.HttpsOptions(options));
                }
            });
            Grpc.GrpcHosting.Listen(kestrel, options);
            Compat.CompatEndpoints.Listen(kestrel, options);
            var limits = kestrel.Limits;

            // One message's value; the batch route raises it to maxBatchBytes for itself.
            limits.MaxRequestBodySize = options.MaxMessageBytes;
            limits.MaxRequestHeadersTotalSize = 64 * 1024;
            limits.MaxRequestHeaderCount = 100;
            limits.MaxRequestLineSize = 16 * 1024;
            limits.MaxConcurrentConnections = 10_000;
            limits.MaxConcurrentUpgradedConnections = 10_000;

            // Longer than the longest long-poll (60 s), so an idle poller's connection is kept.
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(130);
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(30);
            limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromMilliseconds(options.ShutdownTimeoutMs));

        builder.Services.AddOptions<ServerOptions>().Configure(options.CopyTo).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ServerOptions>, ServerOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Partitioner>();
        builder.Services.AddSingleton<TopicDirectory>();
        builder.Services.AddSingleton<SubscriptionDirectory>();
        builder.Services.AddSingleton<PendingAppends>();
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddMetrics();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, SluiceJsonContext.Default));
        builder.Services.AddOpenApi(ErrorShape.Describe);
        StreamingEndpoints.AddServices(builder.Services);
        Backend.AddServices(builder.Services, options);
        AddWebhooks(builder.Services, options);
        var sinks = ReplicationServices.Add(builder.Services, options);
        SecurityServices.Add(builder.Services, options);
        Grpc.GrpcHosting.AddServices(builder.Services, options);
        Compat.CompatEndpoints.AddServices(builder.Services, options);
        Telemetry.AddServices(builder.Services, options);
        ClusterServices.Add(builder.Services, options); // last: it copies the per-cluster registrations above

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server");
        var readiness = app.Services.GetRequiredService<Readiness>();

        try
        {
            await app.Services.GetRequiredService<Backend>().OpenAsync(options, app.Services.GetRequiredService<ILoggerFactory>(), TimeProvider.System, CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.OpenFailed(logger, LogLocation(options), ex);
            await Console.Error.WriteLineAsync($"sluice: cannot open the message log in {LogLocation(options)}: {ex.Message}");
            await app.DisposeAsync();
            return 1;
        }

        try
        {
            await Backend.StartEngineAsync(app.Services.GetRequiredService<ISubscriptionService>(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.OpenFailed(logger, LogLocation(options), ex);
            await Console.Error.WriteLineAsync($"sluice: cannot load subscription state from {LogLocation(options)}: {ex.Message}");
            await app.DisposeAsync();
            return 1;
        }

        var clusters = app.Services.GetRequiredService<ClusterSet>();
        if (!await clusters.OpenOthersAsync(options, logger, CancellationToken.None))
        {
            await app.DisposeAsync();
            return 1;
        }

        app.UseMiddleware<ProblemMiddleware>();
        PathGuard.Use(app);
        BrowserGuard.Use(app);
        ReplicationServices.Use(app, options, sinks);
        StreamingEndpoints.UseStreaming(app, options);
        Grpc.GrpcHosting.UsePorts(app, options);
        Compat.CompatEndpoints.Use(app, options);
        app.UseRouting();
        SecurityServices.Use(app);
        var auth = options.AuthMode == AuthMode.Jwt ? "jwt" : "none";
        var backend = app.Services.GetRequiredService<Backend>();
        app.MapGet("/healthz", () => TypedResults.Json(new HealthResponse("ok", options.Backend, backend.KafkaBootstrap, auth), SluiceJsonContext.Api.HealthResponse))
            .WithName("Health").WithSummary("200 while the process runs; backend names the log (and the Kafka bootstrap servers); auth says the authentication mode (none: anyone may do anything)")
            .WithMetadata(AccessRule.Public);
        ReadinessEndpoint.Map(app, options);
        app.MapOpenApi().WithMetadata(AccessRule.Public);

        // Sluice's own API below /v1 (the default cluster), and again below /v1/clusters/{name} for every cluster.
        MapApi(app.MapGroup("/v1"));
        ClusterRoutes.Map(app, clusters, MapApi);
        Grpc.GrpcHosting.Map(app, options);
        Compat.CompatEndpoints.Map(app, options);
        Telemetry.Map(app, options);
        WebConsole.ConsoleEndpoints.Map(app);

        static void MapApi(IEndpointRouteBuilder v1)
        {
            var topics = v1.MapGroup("/topics").WithTags("topics");
            TopicEndpoints.Map(topics);
            ProduceEndpoints.Map(topics);
            SubscriptionEndpoints.Map(topics);
            StreamingEndpoints.Map(topics);
            Sluice.Server.Delay.DelayEndpoints.Map(topics);
            WebhookEndpoints.Map(v1);
            ReplicatorEndpoints.Map(v1);
        }

        app.Lifetime.ApplicationStarted.Register(() => readiness.Set(true));
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            readiness.Set(false);
            Log.ShuttingDown(logger);
        });

        if (options.AuthMode == AuthMode.None)
        {
            UnauthenticatedWarning.Write(logger, options);
        }
        else
        {
            Log.JwtEnabled(logger, app.Services.GetRequiredService<JwtKeySet>().Keys.Count, options.JwtIssuer ?? "(any)", options.JwtAudience ?? "(any)");
        }

        Telemetry.LogExport(logger, options);
        LogRuntime(logger);
        if (options.IsKafka)
        {
            Log.ListeningOnKafka(logger, TlsListener.Scheme(options), options.Bind, options.Port, backend.KafkaBootstrap ?? "", configFile ?? "(none)");
        }
        else
        {
            Log.Listening(logger, TlsListener.Scheme(options), options.Bind, options.Port, Path.GetFullPath(options.DataDir), options.FlushPolicy.ToString().ToLowerInvariant(), configFile ?? "(none)");
        }

        var exitCode = 0;
        var shutdownTimeout = TimeSpan.FromMilliseconds(Math.Max(options.ShutdownTimeoutMs, 1000));
        try
        {
            // Not RunAsync: it disposes the host, and the engine must flush between stop and dispose.
            await app.StartAsync();
            await app.WaitForShutdownAsync();
        }
        catch (Exception ex) when (ex is IOException or OptionsValidationException)
        {
            // Typically: the port is taken.
            Log.StartFailed(logger, ex.Message);
            await Console.Error.WriteLineAsync($"sluice: cannot start: {ex.Message}");
            exitCode = 1;

            // What did start (webhook workers, group members of a Kafka fleet) stops as on any shutdown: left running, it
            // goes on delivering, joining and committing under the steps below, which then wait for it.
            using var stopping = new CancellationTokenSource(shutdownTimeout);
            try
            {
                // The host hands the token to the services but does not enforce it itself.
                await app.StopAsync(stopping.Token).WaitAsync(shutdownTimeout);
            }
            catch (Exception stopFailure)
            {
                Log.ShutdownStepFailed(logger, "stop what had started", stopFailure);
            }
        }

        if (!await ShutDownAsync(app, logger, shutdownTimeout))
        {
            exitCode = 1;
        }

        return exitCode;
    }

    // Webhooks: the dispatcher (Core) with the HTTP transport and SSRF guard (here); started and stopped as a hosted service.
    private static void AddWebhooks(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<SsrfGuard>();
        services.AddSingleton<HttpWebhookTransport>();
        services.AddSingleton<Sluice.Core.Webhooks.IWebhookTransport>(sp => sp.GetRequiredService<HttpWebhookTransport>());
        services.AddSluiceWebhooks(o =>
        {
            o.BreakerFailureThreshold = options.WebhookBreakerFailures;
            o.BreakerCooldown = TimeSpan.FromMilliseconds(options.WebhookBreakerCooldownMs);
            o.BreakerMaxCooldown = TimeSpan.FromMilliseconds(options.WebhookBreakerMaxCooldownMs);
            o.RunWorkers = options.RunsWorkers;
        });
        services.AddHostedService<WebhookHostedService>();
    }

    // The least time closing the engine and the log gets, whatever the shutdown timeout: a log flushed under flush policy
    // never or interval may have much to write.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

    // False when closing the engine and the log did not finish in time: the process exits anyway, and says so.
    private static async Task<bool> ShutDownAsync(WebApplication app, ILogger logger, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await Step("wait for async produces", () => new ValueTask(app.Services.GetRequiredService<PendingAppends>().WaitAsync(cts.Token)));
        await Step("flush subscription state", () => app.Services.GetRequiredService<ISubscriptionService>().FlushAsync(cts.Token));
        foreach (var cluster in app.Services.GetRequiredService<ClusterSet>().Others)
        {
            await Step($"drain cluster {cluster.Name}", () => ClusterSet.DrainAsync(cluster, cts.Token));
        }

        // Disposes the engine, then the log (reverse order of creation). Bounded too: a process asked to stop must stop, even
        // when a Kafka client never returns from closing. (Under flush policy always, what was acknowledged is on disk already.)
        var closeTimeout = timeout > CloseTimeout ? timeout : CloseTimeout;
        try
        {
            await app.DisposeAsync().AsTask().WaitAsync(closeTimeout);
        }
        catch (TimeoutException)
        {
            // Not through the logger: its provider is among what is still being disposed.
            await Console.Error.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"sluice: closing the engine and the log did not finish within {closeTimeout.TotalSeconds:F0} s; exiting without it"));
            return false;
        }
        catch (Exception ex)
        {
            Log.ShutdownStepFailed(logger, "close the engine and the log", ex);
        }

        Log.ShutdownComplete(logger);
        return true;

        async Task Step(string what, Func<ValueTask> step)
        {
            try
            {
                await step();
            }
            catch (Exception ex)
            {
                Log.ShutdownStepFailed(logger, what, ex);
            }
        }
    }

    // What the collector runs with, so an operator sees whether a DOTNET_ override took (Runtime.props has the defaults).
    private static void LogRuntime(ILogger logger)
    {
        var gc = GC.GetConfigurationVariables();
        var adaptive = gc.TryGetValue("GCDynamicAdaptationMode", out var mode) && Convert.ToInt64(mode, System.Globalization.CultureInfo.InvariantCulture) == 1;
        var heaps = gc.TryGetValue("HeapCount", out var count) ? Convert.ToInt64(count, System.Globalization.CultureInfo.InvariantCulture) : 1;
        Log.RuntimeSettings(logger, Environment.Version.ToString(), System.Runtime.GCSettings.IsServerGC ? "server" : "workstation", heaps, adaptive ? "on" : "off");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.RuntimeSettings, Level = LogLevel.Information,
            Message = "Runtime: .NET {Version}, {Collector} garbage collector, {Heaps} heap(s), heap size adaptation (DATAS) {Adaptation}")]
        public static partial void RuntimeSettings(ILogger logger, string version, string collector, long heaps, string adaptation);

        [LoggerMessage(EventId = LogEvents.JwtEnabled, Level = LogLevel.Information,
            Message = "Authentication: bearer JWTs, {Keys} verification key(s), issuer {Issuer}, audience {Audience}")]
        public static partial void JwtEnabled(ILogger logger, int keys, string issuer, string audience);

        [LoggerMessage(EventId = LogEvents.Listening, Level = LogLevel.Information,
            Message = "Sluice listening on {Scheme}://{Bind}:{Port}, data in {DataDir}, flush policy {FlushPolicy}, config file {ConfigFile}")]
        public static partial void Listening(ILogger logger, string scheme, string bind, int port, string dataDir, string flushPolicy, string configFile);

        [LoggerMessage(EventId = LogEvents.ShuttingDown, Level = LogLevel.Information, Message = "Shutting down: no longer ready; finishing in-flight requests")]
        public static partial void ShuttingDown(ILogger logger);

        [LoggerMessage(EventId = LogEvents.ShutdownComplete, Level = LogLevel.Information, Message = "Shutdown complete")]
        public static partial void ShutdownComplete(ILogger logger);

        [LoggerMessage(EventId = LogEvents.ShutdownStepFailed, Level = LogLevel.Error, Message = "Shutdown step '{Step}' failed")]
        public static partial void ShutdownStepFailed(ILogger logger, string step, Exception exception);

        [LoggerMessage(EventId = LogEvents.ListeningOnKafka, Level = LogLevel.Information,
            Message = "Sluice listening on {Scheme}://{Bind}:{Port}, data in Kafka at {KafkaBootstrap}, config file {ConfigFile}")]
        public static partial void ListeningOnKafka(ILogger logger, string scheme, string bind, int port, string kafkaBootstrap, string configFile);

        [LoggerMessage(EventId = LogEvents.OpenFailed, Level = LogLevel.Critical, Message = "Cannot open the message log in {DataDir}")]
        public static partial void OpenFailed(ILogger logger, string dataDir, Exception exception);

        [LoggerMessage(EventId = LogEvents.StartFailed, Level = LogLevel.Critical, Message = "Cannot start the server: {Reason}")]
        public static partial void StartFailed(ILogger logger, string reason);
    }

    private static string LogLocation(ServerOptions options) => options.IsKafka
        ? options.KafkaMockBrokers > 0 ? "a mock Kafka cluster hosted in this process" : "the Kafka cluster (see kafka:clusters:default:bootstrap)"
        : $"the data directory '{options.DataDir}'";
}
