using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Sluice.Server.Configuration;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's HTTP API (funkygao/gafka, <c>cmd/kateway</c>), unchanged for its clients, under <c>kateway:prefix</c>
/// (<c>/kateway</c>) on the main port and, when <c>kateway:pubPort</c>, <c>subPort</c>, <c>manPort</c> are set, at the root
/// of those ports, each serving its own server's routes as kateway's did:
/// <code>
///   pub  POST /v1/msgs/:topic/:ver                       publish (KatewayPub)
///        POST|DELETE /v1/jobs/:topic/:ver                delayed messages (KatewayJobs)
///   sub  GET  /v1/msgs/:appid/:topic/:ver                long poll (KatewaySub); PUT: bury (KatewayAcks)
///        PUT  /v1/offsets/:appid/:topic/:ver/:group      ack (KatewayAcks)
///   man  /v1/status, /v1/subd, /v1/partitions, /v1/peek, /v1/topics, /v1/shadow, /v1/groups, /v1/offset (KatewayAdmin)
///        PUT|DELETE /v1/webhooks/:appid/:topic/:ver       (KatewayWebhooks)
///   all  GET /alive                                      {"ok":1}
/// </code>
/// Errors are kateway's: <c>{"errmsg": "..."}</c> with 400, 401, 409, 413, 429. Requests authenticate with kateway's
/// headers (<see cref="KatewayAccess"/>, <see cref="AccessRule.Adapter"/>).
/// </summary>
internal static partial class KatewayEndpoints
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<KatewayAccess>();
        services.AddSingleton<KatewayLedger>();
    }

    public static void Listen(KestrelServerOptions kestrel, ServerOptions options)
    {
        foreach (var port in Ports(options).Keys)
        {
            kestrel.Listen(IPAddress.Parse(options.Bind), port, listen =>
            {
                if (TlsListener.Enabled(options))
                {
                    listen.UseHttps(TlsListener.HttpsOptions(options));
                }
            });
        }
    }

    /// <summary>A request to one of kateway's ports is routed as if it had come under the prefix, to that server's routes only.</summary>
    public static void Use(WebApplication app, ServerOptions options)
    {
        var ports = Ports(options);
        if (ports.Count == 0)
        {
            return;
        }

        var prefix = new PathString(options.KatewayPrefix);
        app.Use((context, next) =>
        {
            if (ports.TryGetValue(context.Connection.LocalPort, out var server))
            {
                context.Items[typeof(KatewayServer)] = server;
                context.Request.Path = prefix.Add(context.Request.Path);
            }

            return next(context);
        });
    }

    public static void Map(WebApplication app, ServerOptions options)
    {
        var kateway = new KatewayServices(app.Services);
        var logger = kateway.Logger;
        if (kateway.Access.Open)
        {
            if (options.AuthMode == AuthMode.Jwt)
            {
                Log.NoApps(logger);
            }
            else
            {
                Log.OpenMode(logger, options.KatewayPrefix);
            }
        }

        foreach (var (port, server) in Ports(options))
        {
            Log.Listening(logger, server.ToString().ToLowerInvariant(), port);
        }

        var group = app.MapGroup(options.KatewayPrefix).WithTags("kateway").WithMetadata(AccessRule.Adapter, CompatDialect.Kateway.Shape);
        const string Topic = "/{topic}/{ver}";
        const string HisTopic = "/{appid}/{topic}/{ver}";

        group.MapPost("/v1/msgs" + Topic, Route(KatewayServer.Pub, c => KatewayPub.PublishAsync(c, kateway)))
            .WithName("KatewayPub").WithSummary("kateway: publish the body to {Appid}/{topic}/{ver} (key, async=1, X-Tag); 201 with X-Partition, X-Offset")
            .Produces(StatusCodes.Status201Created).Produces(StatusCodes.Status202Accepted).Produces(StatusCodes.Status401Unauthorized).Produces(StatusCodes.Status413PayloadTooLarge);

        group.MapPost("/v1/jobs" + Topic, Route(KatewayServer.Pub, c => KatewayJobs.AddAsync(c, kateway)))
            .WithName("KatewayAddJob").WithSummary("kateway: hold the body for delivery to {Appid}/{topic}/{ver} at ?due= (Unix seconds) or after ?delay= (a Go duration or seconds); 201 with X-Job-Id")
            .Produces(StatusCodes.Status201Created).Produces(StatusCodes.Status400BadRequest).Produces(StatusCodes.Status401Unauthorized).Produces(StatusCodes.Status413PayloadTooLarge);
        group.MapDelete("/v1/jobs" + Topic, Route(KatewayServer.Pub, c => KatewayJobs.CancelAsync(c, kateway)))
            .WithName("KatewayCancelJob").WithSummary("kateway: cancel the pending job ?id=; 409 when already delivered, cancelled or unknown")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status400BadRequest).Produces(StatusCodes.Status409Conflict);

        group.MapGet("/v1/msgs" + HisTopic, Route(KatewayServer.Sub, c => KatewaySub.SubscribeAsync(c, kateway)))
            .WithName("KatewaySub").WithSummary("kateway: long poll of a group (group, batch, reset, ack=1, q=retry|dead, X-Tag); 204 after kateway:subTimeoutMs without a message")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status204NoContent).Produces(StatusCodes.Status400BadRequest).Produces(StatusCodes.Status401Unauthorized);
        group.MapPut("/v1/msgs" + HisTopic, Route(KatewayServer.Sub, c => KatewayAcks.BuryAsync(c, kateway)))
            .WithName("KatewayBury").WithSummary("kateway: bury a message (X-Bury: retry|dead, X-Partition, X-Offset; body = the message) in the group's retry or dead queue")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status400BadRequest);
        group.MapPut("/v1/offsets" + HisTopic + "/{group}", Route(KatewayServer.Sub, c => KatewayAcks.AckAsync(c, kateway)))
            .WithName("KatewayAck").WithSummary("kateway: ack [{\"partition\",\"offset\"}] of the group").Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status400BadRequest);

        group.MapGet("/v1/status" + HisTopic, Route(KatewayServer.Man, c => KatewayAdmin.StatusAsync(c, kateway)))
            .WithName("KatewayStatus").WithSummary("kateway: the caller's groups on a topic, per partition (pold, pubd, subd)").Produces(StatusCodes.Status200OK);
        group.MapGet("/v1/subd" + Topic, Route(KatewayServer.Man, c => KatewayAdmin.SubdAsync(c, kateway)))
            .WithName("KatewaySubd").WithSummary("kateway: every app's groups on the caller's topic").Produces(StatusCodes.Status200OK);
        group.MapGet("/v1/partitions" + HisTopic, Route(KatewayServer.Man, c => KatewayAdmin.PartitionsAsync(c, kateway)))
            .WithName("KatewayPartitions").WithSummary("kateway: partition count and oldest/latest offsets").Produces(StatusCodes.Status200OK);
        group.MapGet("/v1/peek" + HisTopic, Route(KatewayServer.Man, c => KatewayAdmin.PeekAsync(c, kateway)))
            .WithName("KatewayPeek").WithSummary("kateway: the last n messages (or n from partition and offset), base64 in a JSON array").Produces(StatusCodes.Status200OK);
        group.MapPost("/v1/topics" + HisTopic, Route(KatewayServer.Man, c => KatewayAdmin.CreateTopicAsync(c, kateway)))
            .WithName("KatewayCreateTopic").WithSummary("kateway: create a topic (partitions, retention.hours, retention.bytes)").Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status409Conflict);
        group.MapPut("/v1/topics" + HisTopic, Route(KatewayServer.Man, c => KatewayAdmin.AlterTopicAsync(c, kateway)))
            .WithName("KatewayAlterTopic").WithSummary("kateway: change a topic's partitions or retention").Produces(StatusCodes.Status200OK);
        group.MapPost("/v1/shadow" + HisTopic + "/{group}", Route(KatewayServer.Man, c => KatewayAdmin.CreateShadowAsync(c, kateway)))
            .WithName("KatewayShadow").WithSummary("kateway: create the group's retry and dead queues").Produces(StatusCodes.Status201Created);
        group.MapDelete("/v1/groups" + HisTopic + "/{group}", Route(KatewayServer.Man, c => KatewayAdmin.DeleteGroupAsync(c, kateway)))
            .WithName("KatewayDeleteGroup").WithSummary("kateway: delete a group").Produces(StatusCodes.Status200OK);
        group.MapPut("/v1/offset" + HisTopic + "/{group}/{partition}", Route(KatewayServer.Man, c => KatewayAdmin.ResetOffsetAsync(c, kateway)))
            .WithName("KatewayResetOffset").WithSummary("kateway: move a group in one partition to ?offset=").Produces(StatusCodes.Status200OK);
        group.MapPut("/v1/webhooks" + HisTopic, Route(KatewayServer.Man, c => KatewayWebhooks.PutAsync(c, kateway)))
            .WithName("KatewayPutWebhooks").WithSummary("kateway: the topic's webhook endpoints ({\"endpoints\": [...]}), delivered at least once").Produces(StatusCodes.Status200OK);
        group.MapDelete("/v1/webhooks" + HisTopic, Route(KatewayServer.Man, c => KatewayWebhooks.DeleteAsync(c, kateway)))
            .WithName("KatewayDeleteWebhooks").WithSummary("kateway: remove the topic's webhooks").Produces(StatusCodes.Status200OK);

        group.MapGet("/alive", CompatDialect.Kateway.Wrap(c =>
        {
            KatewayPub.WriteOk(c.Response);
            return Task.CompletedTask;
        }))
            .WithName("KatewayAlive").WithSummary("kateway: {\"ok\":1} while the process runs").Produces(StatusCodes.Status200OK);
    }

    /// <summary>A route of one server: on another server's port it does not exist (kateway's 404).</summary>
    private static Func<HttpContext, Task> Route(KatewayServer server, Func<HttpContext, Task> handler) => CompatDialect.Kateway.Wrap(context =>
        context.Items.TryGetValue(typeof(KatewayServer), out var on) && on is KatewayServer port && port != server
            ? CompatDialect.Kateway.WriteAsync(context, StatusCodes.Status404NotFound, "Not Found")
            : handler(context));

    /// <summary>The configured kateway ports and the server each serves.</summary>
    private static Dictionary<int, KatewayServer> Ports(ServerOptions options)
    {
        var ports = new Dictionary<int, KatewayServer>();
        foreach (var (port, server) in new[] { (options.KatewayPubPort, KatewayServer.Pub), (options.KatewaySubPort, KatewayServer.Sub), (options.KatewayManPort, KatewayServer.Man) })
        {
            if (port > 0)
            {
                ports[port] = server;
            }
        }

        return ports;
    }

    /// <summary>Cross-field checks for ServerOptionsValidator: the ports differ from each other and from the main port.</summary>
    public static IEnumerable<string> Check(ServerOptions o)
    {
        var used = new List<int> { o.Port };
        foreach (var (name, port) in new[] { ("kateway:pubPort", o.KatewayPubPort), ("kateway:subPort", o.KatewaySubPort), ("kateway:manPort", o.KatewayManPort) })
        {
            if (port > 0 && used.Contains(port))
            {
                yield return $"{name} ({port}) must differ from port and from the other kateway ports";
            }

            used.Add(port);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = CompatLogEvents.KatewayOpenMode, Level = LogLevel.Warning,
            Message = "kateway routes ({Prefix}) are in kateway's open mode: no kateway:apps are configured, so any Appid is accepted without a key")]
        public static partial void OpenMode(ILogger logger, string prefix);

        [LoggerMessage(EventId = CompatLogEvents.KatewayNoApps, Level = LogLevel.Warning,
            Message = "kateway routes refuse every request: auth:mode is jwt and no kateway:apps are configured (kateway's clients authenticate with Appid and Pubkey/Subkey)")]
        public static partial void NoApps(ILogger logger);

        [LoggerMessage(EventId = CompatLogEvents.KatewayListening, Level = LogLevel.Information, Message = "kateway {Server} server on port {Port}")]
        public static partial void Listening(ILogger logger, string server, int port);
    }
}
