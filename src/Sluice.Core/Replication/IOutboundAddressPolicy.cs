using System.Net;

namespace Sluice.Core.Replication;

/// <summary>
/// Which addresses the gateway may call on a user's behalf (the webhooks' SSRF guard): sinks that connect to addresses a
/// user names check them here, at registration and on every new connection.
/// </summary>
public interface IOutboundAddressPolicy
{
    /// <summary>True when a connection to this address is allowed.</summary>
    bool IsAllowed(IPAddress address);

    /// <summary>Checks a URL a user gave (scheme, credentials, every address its host resolves to); a reason to refuse it, or null.</summary>
    ValueTask<string?> CheckUrlAsync(Uri url, CancellationToken cancellationToken);
}
