using System.Net;
using Sluice.Core.Replication;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Replication;

/// <summary>The webhooks' SSRF guard, offered to sinks (<c>webhooks:allowPrivate</c>, <c>webhooks:allowedNetworks</c> apply to both).</summary>
internal sealed class OutboundAddressPolicy(SsrfGuard guard) : IOutboundAddressPolicy
{
    public bool IsAllowed(IPAddress address) => guard.IsAllowed(address);

    public ValueTask<string?> CheckUrlAsync(Uri url, CancellationToken cancellationToken) => guard.CheckUrlAsync(url, cancellationToken);
}
