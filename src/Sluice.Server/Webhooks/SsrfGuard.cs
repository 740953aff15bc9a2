using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;

namespace Sluice.Server.Webhooks;

/// <summary>
/// Keeps webhooks from reaching into the gateway's own network (server-side request forgery): loopback, link-local
/// (cloud metadata at 169.254.169.254 included), private, shared, multicast and reserved addresses, IPv4 and IPv6,
/// IPv4 embedded in IPv6 (mapped, NAT64, 6to4) judged as the IPv4 address they carry. Checked at registration
/// (resolving the host) and again at connect time on the address actually connected to, since DNS can change.
/// Networks in <c>webhooks:allowedNetworks</c> are allowed; <c>--allow-private-webhooks</c> allows everything.
/// </summary>
internal sealed class SsrfGuard
{
    private static readonly IPNetwork[] BlockedV4 =
    [
        IPNetwork.Parse("0.0.0.0/8"),        // "this network"
        IPNetwork.Parse("10.0.0.0/8"),       // private
        IPNetwork.Parse("100.64.0.0/10"),    // carrier-grade NAT
        IPNetwork.Parse("127.0.0.0/8"),      // loopback
        IPNetwork.Parse("169.254.0.0/16"),   // link-local, cloud metadata
        IPNetwork.Parse("172.16.0.0/12"),    // private
        IPNetwork.Parse("192.0.0.0/24"),     // IETF protocol assignments (incl. some metadata services)
        IPNetwork.Parse("192.168.0.0/16"),   // private
        IPNetwork.Parse("198.18.0.0/15"),    // benchmarking
        IPNetwork.Parse("224.0.0.0/4"),      // multicast
        IPNetwork.Parse("240.0.0.0/4"),      // reserved, broadcast
    ];

    private static readonly IPNetwork[] BlockedV6 =
    [
        IPNetwork.Parse("::/128"),           // unspecified
        IPNetwork.Parse("::1/128"),          // loopback
        IPNetwork.Parse("fc00::/7"),         // unique local (incl. fd00:ec2::254, a metadata address)
        IPNetwork.Parse("fe80::/10"),        // link-local
        IPNetwork.Parse("fec0::/10"),        // site-local (deprecated, still routed by some)
        IPNetwork.Parse("ff00::/8"),         // multicast
        IPNetwork.Parse("100::/64"),         // discard
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    private readonly bool _allowAll;
    private readonly IPNetwork[] _allowed;

    public SsrfGuard(IOptions<ServerOptions> options)
        : this(options.Value.AllowPrivateWebhooks, ParseNetworks(options.Value.WebhookAllowedNetworks))
    {
    }

    public SsrfGuard(bool allowAll, IPNetwork[] allowed)
    {
        _allowAll = allowAll;
        _allowed = allowed;
    }

    /// <summary>Parses a comma-separated list of CIDR networks (or single addresses); throws FormatException.</summary>
    public static IPNetwork[] ParseNetworks(string? list)
    {
        if (string.IsNullOrWhiteSpace(list))
        {
            return [];
        }

        var result = new List<IPNetwork>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(part, out var network))
            {
                result.Add(network);
            }
            else if (IPAddress.TryParse(part, out var address))
            {
                result.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                throw new FormatException($"'{part}' is not a network (such as 10.1.0.0/16 or fd00::/8) or an address");
            }
        }

        return [.. result];
    }

    /// <summary>True when a webhook may connect to this address.</summary>
    public bool IsAllowed(IPAddress address)
    {
        if (_allowAll)
        {
            return true;
        }

        foreach (var network in _allowed)
        {
            if (network.BaseAddress.AddressFamily == address.AddressFamily && network.Contains(address))
            {
                return true;
            }

            // An allowed IPv4 network also allows its IPv4-mapped form (dual-stack sockets report those).
            if (address.IsIPv4MappedToIPv6 && network.BaseAddress.AddressFamily == AddressFamily.InterNetwork && network.Contains(address.MapToIPv4()))
            {
                return true;
            }
        }

        return !IsInternal(address);
    }

    /// <summary>Loopback, link-local, private, metadata, multicast or reserved (before any allow-list).</summary>
    public static bool IsInternal(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return BlockedV4.Any(n => n.Contains(address));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return true;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return IsInternal(address.MapToIPv4());
        }

        if (Nat64.Contains(address))
        {
            var b = address.GetAddressBytes();
            return IsInternal(new IPAddress(b.AsSpan(12, 4)));
        }

        if (SixToFour.Contains(address))
        {
            var b = address.GetAddressBytes();
            return IsInternal(new IPAddress(b.AsSpan(2, 4)));
        }

        // IPv4-compatible (deprecated ::a.b.c.d): judge the IPv4 part.
        var bytes = address.GetAddressBytes();
        if (bytes.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
        {
            return IsInternal(new IPAddress(bytes.AsSpan(12, 4)));
        }

        return BlockedV6.Any(n => n.Contains(address));
    }

    /// <summary>
    /// Checks a webhook URL at registration: http or https, a host, and every address the host resolves to allowed.
    /// Returns a reason to refuse, or null.
    /// </summary>
    public async ValueTask<string?> CheckUrlAsync(Uri url, CancellationToken cancellationToken)
    {
        if (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
        {
            return $"url scheme must be http or https; got '{url.Scheme}'";
        }

        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            return "url must not carry credentials (user:password@); use headers instead";
        }

        var host = url.IdnHost;
        IPAddress[] addresses;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            }
            catch (SocketException ex)
            {
                return $"url host '{host}' does not resolve ({ex.SocketErrorCode})";
            }
        }

        foreach (var address in addresses)
        {
            if (!IsAllowed(address))
            {
                return $"url host '{host}' resolves to {address}, a loopback, link-local, private or metadata address; " +
                    "allow it with webhooks:allowedNetworks, or run with --allow-private-webhooks for local use";
            }
        }

        return addresses.Length == 0 ? $"url host '{host}' has no address" : null;
    }
}
