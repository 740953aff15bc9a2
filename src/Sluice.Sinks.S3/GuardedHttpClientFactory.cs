using System.Net;
using Amazon.Runtime;
using Sluice.Core.Replication;

namespace Sluice.Sinks.S3;

/// <summary>
/// The S3 client's HTTP connections, each checked by the gateway's SSRF guard on the address actually connected to
/// (a service URL's name may resolve elsewhere than at registration). No proxy, no redirects, no cookies.
/// </summary>
internal sealed class GuardedHttpClientFactory(IOutboundAddressPolicy policy) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        ConnectCallback = (context, cancellationToken) => OutboundConnections.ConnectAsync(policy, context.DnsEndPoint, cancellationToken),
        ActivityHeadersPropagator = null,
    })
    {
        // The SDK applies the configured timeout per request itself.
        Timeout = Timeout.InfiniteTimeSpan,
    };

    // One client per sink: the sink owns its S3 client, which disposes it.
    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;
}
