using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Sluice.Server.Security;

namespace Sluice.Server.Streaming;

/// <summary>
/// Accepts a consume WebSocket over a <see cref="FrameBatchingStream"/>, so the send loop can write a batch of frames
/// in one write. The HTTP/1.1 handshake (RFC 6455 section 4.2.2) is what the WebSocket middleware answers, with the
/// same keep-alive; the middleware has already checked the request (<c>IsWebSocketRequest</c>: GET, Upgrade,
/// version 13, a key of 16 bytes). A WebSocket over HTTP/2 (extended CONNECT) is accepted by the middleware as before,
/// without batching.
/// </summary>
internal static class WebSocketUpgrade
{
    // RFC 6455: the GUID the key is hashed with.
    private const string KeyGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>
    /// Maps a WebSocket route: the GET of HTTP/1.1's upgrade, named <paramref name="name"/> (returned, to describe), and
    /// its HTTP/2 twin. HTTP/2 opens a WebSocket with an extended CONNECT (RFC 8441), not a GET, so the GET route alone
    /// answers it 405. The twin has the same handler and the access rule of that name, and is left out of the API
    /// description, which has no CONNECT operations.
    /// </summary>
    public static RouteHandlerBuilder Map(IEndpointRouteBuilder routes, string pattern, Func<HttpContext, Task> handler, string name)
    {
        routes.MapMethods(pattern, [HttpMethods.Connect], handler)
            .WithMetadata(AccessRules.ForName(name) ?? throw new InvalidOperationException($"no access rule for route '{name}'"))
            .ExcludeFromDescription();
        return routes.MapGet(pattern, handler).WithName(name);
    }

    public static async Task<(WebSocket Socket, FrameBatchingStream? Frames)> AcceptAsync(HttpContext context, TimeSpan keepAlive)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var key = context.Request.Headers.SecWebSocketKey.ToString();
        if (upgrade is not { IsUpgradableRequest: true } || key.Length == 0)
        {
            // HTTP/2: the middleware's way. (Extensions a client offers are declined, as the middleware does here.)
            return (await context.WebSockets.AcceptWebSocketAsync(), null);
        }

        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = "websocket";
        context.Response.Headers.SecWebSocketAccept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + KeyGuid)));
        var stream = new FrameBatchingStream(await upgrade.UpgradeAsync());
        var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = keepAlive });
        return (socket, stream);
    }
}
