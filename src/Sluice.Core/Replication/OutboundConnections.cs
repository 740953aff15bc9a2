using System.Net;
using System.Net.Sockets;

namespace Sluice.Core.Replication;

/// <summary>
/// Connections that sinks open to addresses a user named, checked by the gateway's <see cref="IOutboundAddressPolicy"/>
/// on the address actually connected to (a name can resolve differently than at registration). A sink whose client
/// library takes a <c>SocketsHttpHandler</c> uses <see cref="ConnectAsync"/> as its <c>ConnectCallback</c>.
/// </summary>
public static class OutboundConnections
{
    /// <summary>Resolves <paramref name="endpoint"/>, keeps the addresses the policy allows, and connects to one of them.</summary>
    public static async ValueTask<Stream> ConnectAsync(IOutboundAddressPolicy policy, DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var addresses = IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        var allowed = addresses.Where(policy.IsAllowed).ToArray();
        if (allowed.Length == 0)
        {
            throw new HttpRequestException($"{endpoint.Host} resolves only to addresses the gateway may not call (loopback, private, link-local or metadata); see webhooks:allowedNetworks");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, endpoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
