using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Pixy;

/// <summary><c>pixy:port</c>: Kafka-Pixy's REST routes on a port of their own, which serves nothing else.</summary>
public sealed class PixyPortTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _server = null!;

    public async Task InitializeAsync()
    {
        _server = new ServerProcess { PortOptions = ["--pixy-port"] };
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _server.WriteOutputTo(output, lastLines: 30);
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task PixyPort_ServesPixysRoutes_AndNotTheHttpApi()
    {
        using var pixy = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.PortOf("--pixy-port")}") };
        Assert.Equal("pong", await pixy.GetStringAsync("/_ping"));
        using (var produced = await pixy.PostAsync($"/topics/{PixyServer.NewTopic()}/messages?sync", new StringContent("x") { Headers = { ContentType = new("text/plain") } }))
        {
            Assert.Equal(HttpStatusCode.OK, produced.StatusCode);
        }

        using var api = await pixy.GetAsync("/v1/topics");
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.Equal("urn:sluice:problem:not-found", (await SluiceApi.ReadJsonAsync(api)).GetProperty("type").GetString());

        // The main port serves both.
        Assert.Equal("pong", await _server.Client.GetStringAsync("/_ping"));
    }
}
