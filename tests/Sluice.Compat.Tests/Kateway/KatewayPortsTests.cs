using System.Net;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>A server that also serves kateway's pub, sub and admin servers on their own ports, at their root.</summary>
public sealed class KatewayPortsServer : IAsyncLifetime
{
    public ServerProcess Server { get; } = new(CompatServer.Args) { PortOptions = ["--kateway-pub-port", "--kateway-sub-port", "--kateway-man-port"] };

    public int PubPort => Server.PortOf("--kateway-pub-port");

    public int SubPort => Server.PortOf("--kateway-sub-port");

    public int ManPort => Server.PortOf("--kateway-man-port");

    public HttpClient On(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>kateway's clients pointed at kateway's own ports (9191, 9192, 9193 in kateway; configurable here).</summary>
[Trait("Backend", "EmbeddedOnly")] // listeners and routing sit in front of the backend: one pass is enough
public sealed class KatewayPortsTests(KatewayPortsServer fixture, ITestOutputHelper output) : IClassFixture<KatewayPortsServer>, IDisposable
{
    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task PubPort_SubPort_ManPort_ServeTheirRoutesAtTheRoot()
    {
        using var pub = fixture.On(fixture.PubPort);
        using var sub = fixture.On(fixture.SubPort);
        using var man = fixture.On(fixture.ManPort);
        var topic = Names.Unique("ports");

        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/msgs/{topic}/v1") { Content = new StringContent("over 9191") })
        {
            request.Headers.Add("Appid", "app1");
            request.Headers.Add("Pubkey", "k");
            using var response = await pub.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/msgs/app1/{topic}/v1?group=g"))
        {
            request.Headers.Add("Appid", "app1");
            request.Headers.Add("Subkey", "k");
            using var response = await sub.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("over 9191", await response.Content.ReadAsStringAsync());
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/partitions/app1/{topic}/v1"))
        {
            request.Headers.Add("Appid", "app1");
            request.Headers.Add("Pubkey", "k");
            using var response = await man.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal("{\"ok\":1}", await pub.GetStringAsync("/alive"));
        Assert.Equal("{\"ok\":1}", await man.GetStringAsync("/alive"));
    }

    [Fact]
    public async Task AnotherServersRoute_OnAPort_IsNotFound_AndSluicesOwnRoutesAreNotThere()
    {
        using var sub = fixture.On(fixture.SubPort);
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/msgs/{Names.Unique("wrong")}/v1") { Content = new StringContent("x") })
        {
            request.Headers.Add("Appid", "app1");
            request.Headers.Add("Pubkey", "k");
            using var response = await sub.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("Not Found", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
        }

        Assert.Equal(HttpStatusCode.NotFound, (await sub.GetAsync("/v1/topics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await sub.GetAsync("/healthz")).StatusCode);
    }
}
