using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;

namespace Sluice.Server.Hosting;

/// <summary>
/// Kestrel's socket transport with its scheduling chosen per listener. Kestrel's transport options hold one choice for
/// every port; this keeps two transports and binds each port with one of them:
/// <code>
///   the HTTP port, the compatibility ports ──► sends and request starts inline (inlineIo, the default) or queued
///   the gRPC port, the Pixy port           ──► queued to the thread pool (Kestrel's default)
/// </code>
/// Why: with inline scheduling a subscription stream's turn, a produce's answer and kateway's are one send on the thread
/// that wrote them (design note 0047). An HTTP/2 connection hands each of its streams to the pool anyway; with its
/// frame writer's sends inline as well, gRPC produce and consume measured fewer messages per second (note 0048). The
/// Pixy port serves Pixy's gRPC API beside its REST one, so it is queued too.
/// </summary>
internal sealed partial class ListenerTransports : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly SocketTransportFactory _inline;
    private readonly SocketTransportFactory _queued;
    private readonly int[] _queuedPorts;
    private readonly bool _inlineIo;
    private readonly ILogger _logger;

    public ListenerTransports(ServerOptions options, IOptionsFactory<SocketTransportOptions> transportOptions, ILoggerFactory loggers)
    {
        // Each made as Kestrel makes its own (with its memory pool: a bare SocketTransportOptions has another pool, whose
        // answers came out empty), then told how to schedule.
        var inline = transportOptions.Create(Options.DefaultName);
        inline.UnsafePreferInlineScheduling = true;
        var queued = transportOptions.Create(Options.DefaultName);
        queued.UnsafePreferInlineScheduling = false;
        _inline = new SocketTransportFactory(Options.Create(inline), loggers);
        _queued = new SocketTransportFactory(Options.Create(queued), loggers);
        _inlineIo = options.InlineIo;
        _queuedPorts = [.. new[] { options.GrpcPort, options.PixyPort }.Where(p => p != 0)];
        _logger = loggers.CreateLogger("Sluice.Server.Hosting");
    }

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var queued = !IsInline(endpoint);
        Log.ListenerScheduling(_logger, endpoint.ToString() ?? "", queued ? "queued to the thread pool" : "inline");
        return (queued ? _queued : _inline).BindAsync(endpoint, cancellationToken);
    }

    public bool CanBind(EndPoint endpoint) => _inline.CanBind(endpoint);

    private bool IsInline(EndPoint endpoint) => _inlineIo && !(endpoint is IPEndPoint ip && _queuedPorts.Contains(ip.Port));

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.ListenerScheduling, Level = LogLevel.Information, Message = "Listener {Endpoint}: Kestrel's sends {Scheduling}")]
        public static partial void ListenerScheduling(ILogger logger, string endpoint, string scheduling);
    }
}
