using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>Fetches the JWKS URL's keys before the server takes requests, then every <c>auth:jwksRefreshMs</c>.</summary>
internal sealed class JwksRefresher(JwtKeySet keys, IOptions<ServerOptions> options, TimeProvider time) : IHostedService, IDisposable
{
    private ITimer? _timer;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (keys.Remote is not { } remote)
        {
            return;
        }

        // A provider that is down at start does not stop the server: tokens with its keys are refused until it answers.
        await remote.RefreshAsync().WaitAsync(cancellationToken);
        var every = TimeSpan.FromMilliseconds(options.Value.JwksRefreshMs);
        _timer = time.CreateTimer(_ => _ = remote.RefreshAsync(), null, every, every);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();
}
