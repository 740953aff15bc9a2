using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

/// <summary>
/// What every streaming test class shares: the server fixture, a client on it, one wait bound, and the
/// server's last lines copied into the test output, so a failure explains itself.
/// </summary>
public abstract class StreamingTests(StreamingServer fixture, ITestOutputHelper output) : IClassFixture<StreamingServer>, IAsyncLifetime
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    protected StreamingServer Fixture => fixture;

    protected HttpClient Client => fixture.Client;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        fixture.Server.WriteOutputTo(output, 30);
        return Task.CompletedTask;
    }
}
