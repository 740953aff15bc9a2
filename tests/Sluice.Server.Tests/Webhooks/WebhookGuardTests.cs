using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Tests.Webhooks;

/// <summary>The SSRF guard: URLs to internal addresses are refused without <c>--allow-private-webhooks</c>.</summary>
public sealed class WebhookGuardTests(WebhookGuardTests.GuardedServer fixture) : IClassFixture<WebhookGuardTests.GuardedServer>
{
    [Theory]
    [InlineData("http://127.0.0.1:9/hook")]
    [InlineData("http://localhost:9/hook")]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[::1]:9/hook")]
    [InlineData("http://[::ffff:192.168.0.1]/hook")]
    [InlineData("http://[fd00:ec2::254]/")]
    public async Task PrivateUrl_WithoutTheFlag_IsRefusedWith400(string url)
    {
        using var response = await fixture.Client.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic = "tests/ns/guarded", url }));
        var problem = await SluiceApi.ReadJsonAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("urn:sluice:problem:webhook-url-refused", problem.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("192.168.1.1", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd12:3456::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::ffff:169.254.169.254", true)]
    [InlineData("64:ff9b::a00:1", true)]
    [InlineData("2002:c0a8:0101::1", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("172.32.0.1", false)]
    [InlineData("2606:4700::1111", false)]
    [InlineData("::ffff:8.8.8.8", false)]
    public void Guard_ClassifiesAddresses(string address, bool isInternal)
        => Assert.Equal(isInternal, SsrfGuard.IsInternal(IPAddress.Parse(address)));

    [Fact]
    public void Guard_AllowListedNetwork_IsAllowed_AndTheFlagAllowsAll()
    {
        var guard = new SsrfGuard(false, SsrfGuard.ParseNetworks("10.1.0.0/16, 127.0.0.1"));
        Assert.True(guard.IsAllowed(IPAddress.Parse("10.1.2.3")));
        Assert.True(guard.IsAllowed(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.True(guard.IsAllowed(IPAddress.Parse("127.0.0.1")));
        Assert.False(guard.IsAllowed(IPAddress.Parse("10.2.0.1")));
        Assert.False(guard.IsAllowed(IPAddress.Parse("127.0.0.2")));
        Assert.True(new SsrfGuard(true, []).IsAllowed(IPAddress.Parse("169.254.169.254")));
    }

    /// <summary>A server without <c>--allow-private-webhooks</c>.</summary>
    public sealed class GuardedServer : IAsyncLifetime
    {
        public ServerProcess Server { get; } = new();

        public HttpClient Client => Server.Client;

        public Task InitializeAsync() => Server.StartAsync();

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }
}
