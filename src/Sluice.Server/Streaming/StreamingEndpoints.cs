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

    /// <summary>Before routing: WebSocket upgrades, with pings so idle sockets survive proxies (like SSE's keep-alive).</summary>
    public static void UseStreaming(WebApplication app, ServerOptions options)
        => app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(options.SseKeepAliveMs) });

    public static void Map(IEndpointRouteBuilder topics)
    {
        SseEndpoint.Map(topics);
        WebSocketConsumeEndpoint.Map(topics);
        WebSocketProduceEndpoint.Map(topics);
        ReplayEndpoint.Map(topics);
    }
}
