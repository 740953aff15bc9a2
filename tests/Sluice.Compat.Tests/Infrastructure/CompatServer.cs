using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Infrastructure;

/// <summary>
/// One server for a test class whose tests each use their own topics and groups: webhooks may call loopback (the
/// receivers are local), kateway's long poll gives up after 2 s instead of 30, and webhook retries start at 200 ms.
/// On both backends (<c>SLUICE_TEST_BACKEND=kafka</c> runs it on librdkafka's mock cluster).
/// </summary>
public sealed class CompatServer : IAsyncLifetime
{
    public const int SubTimeoutMs = 2000;

    public const int MaxMessageBytes = 64 * 1024;

    public static readonly string[] Args = ["--allow-private-webhooks", "--kateway-sub-timeout-ms", SubTimeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture), "--max-message-bytes", MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    public ServerProcess Server { get; } = new(Args);

    public HttpClient Client => Server.Client;

    /// <summary>A new client (a new connection) to the same server: what a client that reconnects uses.</summary>
    public HttpClient NewClient() => new() { BaseAddress = Server.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(90) };

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
