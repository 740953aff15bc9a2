using System.Net;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>A server with kateway apps: app1 and app2 with secrets, and a Sluice grant letting app2 consume app1's topics.</summary>
public sealed class KatewayAppsServer : IAsyncLifetime
{
    public ServerProcess Server { get; } = new(CompatServer.Args, new Dictionary<string, string>
    {
        ["SLUICE_KATEWAY__APPS__app1"] = "secret-one",
        ["SLUICE_KATEWAY__APPS__app2"] = "secret-two",
        ["SLUICE_KATEWAY__APPS__app3"] = "secret-three",
        ["SLUICE_AUTH__ROLES__app2"] = "app1=consume",
    });

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>kateway's app keys (<c>Appid</c> with <c>Pubkey</c> or <c>Subkey</c>) mapped onto Sluice's permission model.</summary>
[Trait("Backend", "EmbeddedOnly")] // authentication sits in front of the backend: one pass is enough
public sealed class KatewayAuthTests(KatewayAppsServer fixture, ITestOutputHelper output) : IClassFixture<KatewayAppsServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Server.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task App_WithItsSecret_PublishesAndConsumesItsOwnTopic()
    {
        var topic = Names.Unique("own");
        await _client.PubAsync("app1", topic, "v1", "mine", secret: "secret-one");
        Assert.Equal("mine", (await _client.SubAsync("app1", "app1", topic, "v1", "g", secret: "secret-one")).Messages.Single().Value);
    }

    [Theory]
    [InlineData("secret-two", "authentication fails")]
    [InlineData("", "auth with empty identity or key")]
    public async Task WrongOrMissingKey_Gets401_AndPublishesNothing(string key, string errmsg)
    {
        var topic = Names.Unique("refused");
        using var request = KatewayApi.Request(HttpMethod.Post, $"/v1/msgs/{topic}/v1", "app1", key.Length == 0 ? null : key);
        request.Content = new StringContent("intruder");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(errmsg, (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
        Assert.DoesNotContain("secret", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await _client.EndOffsetsAsync($"app1/{topic}/v1"));
    }

    [Fact]
    public async Task AnotherAppsTopic_NeedsAGrant()
    {
        var topic = Names.Unique("shared");
        await _client.PubAsync("app1", topic, "v1", "for app2", secret: "secret-one");

        // app2 holds "app1=consume" (auth:roles:app2); app3 holds nothing.
        Assert.Equal("for app2", (await _client.SubAsync("app2", "app1", topic, "v1", "g2", secret: "secret-two")).Messages.Single().Value);

        using var request = KatewayApi.Request(HttpMethod.Get, $"/v1/msgs/app1/{topic}/v1?group=g3", "app3", "secret-three", "Subkey");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("authorization fails", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    [Fact]
    public async Task Secrets_AreNeverLogged()
    {
        await _client.PubAsync("app1", Names.Unique("log"), "v1", "x", secret: "secret-one");
        Assert.DoesNotContain("secret-one", fixture.Server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-two", fixture.Server.Output, StringComparison.Ordinal);
    }
}
