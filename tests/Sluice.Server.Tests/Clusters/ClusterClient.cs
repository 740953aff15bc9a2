using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Clusters;

/// <summary>
/// An HTTP client of one cluster's routes: every request to <c>/v1/...</c> goes to <c>/v1/clusters/{name}/...</c>, so
/// the helpers written for the default routes (<see cref="SluiceApi"/>, the webhook helpers) drive that cluster.
/// </summary>
public sealed class ClusterClient(string cluster) : DelegatingHandler(new HttpClientHandler())
{
    public static HttpClient For(ServerProcess server, string cluster)
        => new(new ClusterClient(cluster)) { BaseAddress = server.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(90) };

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        if (uri.AbsolutePath.StartsWith("/v1/", StringComparison.Ordinal))
        {
            request.RequestUri = new UriBuilder(uri) { Path = "/v1/clusters/" + cluster + uri.AbsolutePath[3..] }.Uri;
        }

        return base.SendAsync(request, cancellationToken);
    }
}
