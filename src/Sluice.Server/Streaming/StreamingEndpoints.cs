using Microsoft.AspNetCore.Http.Features;
using Sluice.Server.Configuration;

namespace Sluice.Server.Streaming;

/// <summary>Composition of streaming: SSE and WebSocket consumers, WebSocket produce, the subscription-less reader.</summary>
internal static class StreamingEndpoints
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<StreamingMetrics>();
        services.AddSingleton<StreamRegistry>();
    }

    /// <summary>
    /// Before routing: WebSocket upgrades, with pings so idle sockets survive proxies (like SSE's keep-alive). Only a
    /// request that asks to change protocol (HTTP/1.1 <c>Connection: Upgrade</c>, or HTTP/2's extended CONNECT) goes
    /// through the WebSocket middleware: it gives every request it sees a handshake feature, an allocation and a
    /// feature-table insert that a produce or a pull pays for nothing (~0.5 µs of a request's CPU, note 0033). A request
    /// that does not ask is no WebSocket request either way, and its endpoint answers as before.
    /// </summary>
    public static void UseStreaming(WebApplication app, ServerOptions options)
        => app.UseWhen(AsksToChangeProtocol, branch => branch.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(options.SseKeepAliveMs) }));

    private static bool AsksToChangeProtocol(HttpContext context)
        => context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
            || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true };

    public static void Map(IEndpointRouteBuilder topics)
    {
        SseEndpoint.Map(topics);
        WebSocketConsumeEndpoint.Map(topics);
        WebSocketProduceEndpoint.Map(topics);
        ReplayEndpoint.Map(topics);
    }
}
