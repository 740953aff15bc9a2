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
///   the HTTP port and every other HTTP/1.1 port (Pixy's REST, kateway's) ──► inline (inlineIo, the default) or queued
///   the gRPC port                                                         ──► queued to the thread pool (Kestrel's default)
/// </code>
/// Why: with inline scheduling a subscription stream's turn, a produce's answer and kateway's are one send on the thread
/// that wrote them (design note 0047). An HTTP/2 connection hands each of its streams to the pool anyway, and gRPC's
/// unary produce (Sluice's and Kafka-Pixy's) measured more messages per second queued (note 0048). The split is by
/// port, not by protocol: HTTP/2 negotiated over TLS on the main port follows inlineIo.
/// </summary>
internal sealed partial class ListenerTransports : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly SocketTransportFactory _inline;
    private readonly SocketTransportFactory _queued;
    private readonly ServerOptions _options;
    private readonly ILogger _logger;

    public ListenerTransports(ServerOptions options, IOptionsFactory<SocketTransportOptions> transportOptions, ILoggerFactory loggers)
    {
        _inline = Transport(transportOptions, inline: true, loggers);
        _queued = Transport(transportOptions, inline: false, loggers);
        _options = options;
        _logger = loggers.CreateLogger("Sluice.Server.Hosting");
    }

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var queued = !IsInline(endpoint);
        Log.ListenerScheduling(_logger, endpoint.ToString() ?? "", queued ? "queued to the thread pool" : "inline");
        return (queued ? _queued : _inline).BindAsync(endpoint, cancellationToken);
    }

    public bool CanBind(EndPoint endpoint) => _inline.CanBind(endpoint);

    // Made as Kestrel makes its own options (with its memory pool: a bare SocketTransportOptions has another pool, whose
    // answers came out empty), then told how to schedule.
    private static SocketTransportFactory Transport(IOptionsFactory<SocketTransportOptions> transportOptions, bool inline, ILoggerFactory loggers)
    {
        var options = transportOptions.Create(Options.DefaultName);
        options.UnsafePreferInlineScheduling = inline;
        return new SocketTransportFactory(Options.Create(options), loggers);
    }

    private bool IsInline(EndPoint endpoint) => _options.InlineIo && !(endpoint is IPEndPoint ip && _options.IsGrpcPort(ip.Port));

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.ListenerScheduling, Level = LogLevel.Information, Message = "Listener {Endpoint}: Kestrel's sends {Scheduling}")]
        public static partial void ListenerScheduling(ILogger logger, string endpoint, string scheduling);
    }
}
