namespace Sluice.Server.Tests.Infrastructure;

/// <summary>
/// One server for a test class whose tests each use their own topics. Small limits keep the size tests quick.
/// </summary>
public sealed class SharedServer : IAsyncLifetime
{
    public const int MaxMessageBytes = 64 * 1024;

    public ServerProcess Server { get; } = new(["--max-message-bytes", MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--max-batch-bytes", (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    public HttpClient Client => Server.Client;

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
