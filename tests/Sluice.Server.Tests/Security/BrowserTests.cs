using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>
/// Web pages against a gateway without authentication: pages of other origins are refused (simple requests and
/// WebSocket upgrades included), a rebound host name is refused (DNS rebinding), curl-like clients and the gateway's own
/// pages are not; and CORS, when configured, lets the named origins in with preflights, exposed headers and credentials.
/// </summary>
public sealed class BrowserTests(ITestOutputHelper output)
{
    private const string Evil = "http://evil.example";

    [Fact]
    public async Task AuthOff_PagesOfOtherOrigins_AreRefused_EvenSimpleRequests_AndChangeNothing()
    {
        await using var server = await ServerProcess.StartNewAsync();
        var topic = SluiceApi.NewTopic("origin");
        await server.Client.ProduceAsync(topic, "mine", partition: 0);
        var before = await server.Client.EndOffsetsAsync(topic);

        // A text/plain POST needs no preflight: the browser sends it at once, with its Origin.
        using (var produce = await SendAsync(server, HttpMethod.Post, $"/v1/topics/{topic}/messages", origin: Evil, body: "forged"))
        {
            await AssertProblemAsync(produce, HttpStatusCode.Forbidden, "origin-not-allowed");
        }

        using (var read = await SendAsync(server, HttpMethod.Get, $"/v1/topics/{topic}/messages?partition=0", origin: Evil))
        {
            await AssertProblemAsync(read, HttpStatusCode.Forbidden, "origin-not-allowed");
            Assert.False(read.Headers.Contains("Access-Control-Allow-Origin"));
        }

        using (var sandboxed = await SendAsync(server, HttpMethod.Delete, $"/v1/topics/{topic}", origin: "null"))
        {
            await AssertProblemAsync(sandboxed, HttpStatusCode.Forbidden, "origin-not-allowed");
        }

        // A WebSocket upgrade from that page is refused before it opens.
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", Evil);
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/v1/topics/{topic}/ws/produce"), CancellationToken.None));
        output.WriteLine(refused.Message);
        Assert.Equal(before, await server.Client.EndOffsetsAsync(topic));

        // Clients without an Origin (curl, servers) and the gateway's own pages (same origin) are served.
        using (var curl = await SendAsync(server, HttpMethod.Post, $"/v1/topics/{topic}/messages", origin: null, body: "curl"))
        {
            Assert.Equal(HttpStatusCode.OK, curl.StatusCode);
        }

        using (var own = await SendAsync(server, HttpMethod.Post, $"/v1/topics/{topic}/messages", origin: $"http://127.0.0.1:{server.Port}", body: "console"))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using var ownSocket = new ClientWebSocket();
        ownSocket.Options.SetRequestHeader("Origin", $"http://localhost:{server.Port}");
        await ownSocket.ConnectAsync(new Uri($"ws://localhost:{server.Port}/v1/topics/{topic}/ws/produce"), CancellationToken.None);
        await ownSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("rebind.attacker.test:8080")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task AuthOffOnLoopback_AnotherHostName_IsRefused_AgainstDnsRebinding(string host)
    {
        await using var server = await ServerProcess.StartNewAsync();
        var topic = SluiceApi.NewTopic("rebind");
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("x") })
        {
            request.Headers.Host = host;
            using var response = await server.Client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.MisdirectedRequest, "host-not-allowed");
        }

        Assert.Empty(await server.Client.EndOffsetsAsync(topic));
        foreach (var name in new[] { "localhost", "127.0.0.1", "[::1]" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/topics");
            request.Headers.Host = $"{name}:{server.Port}";
            using var response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task AllowedHosts_ServesTheNamedHostsOnly()
    {
        await using var server = await ServerProcess.StartNewAsync(["--allowed-hosts", "gateway.example.com,*.internal.test"]);
        Assert.Equal(HttpStatusCode.OK, await StatusForHostAsync(server, "gateway.example.com"));
        Assert.Equal(HttpStatusCode.OK, await StatusForHostAsync(server, "a.internal.test:443"));
        Assert.Equal(HttpStatusCode.MisdirectedRequest, await StatusForHostAsync(server, "localhost"));
        Assert.Equal(HttpStatusCode.MisdirectedRequest, await StatusForHostAsync(server, "internal.test.evil"));

        // Probes by IP still get health and readiness.
        using var ready = await server.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Cors_AllowedOrigin_GetsPreflightsAndHeaders_OthersAreStillRefused()
    {
        const string app = "http://app.example:3000";
        await using var server = await ServerProcess.StartNewAsync(["--cors-allowed-origins", app + ",https://other.example", "--cors-exposed-headers", "Location,Retry-After", "--cors-allow-credentials", "--cors-max-age-seconds", "120"]);
        var topic = SluiceApi.NewTopic("cors");

        // A preflight for a JSON PUT: answered for the allowed origin, even though no route has OPTIONS.
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, $"/v1/topics/{topic}"))
        {
            preflight.Headers.Add("Origin", app);
            preflight.Headers.Add("Access-Control-Request-Method", "PUT");
            preflight.Headers.Add("Access-Control-Request-Headers", "content-type,authorization");
            using var response = await server.Client.SendAsync(preflight);
            output.WriteLine($"preflight: {(int)response.StatusCode} {response.Headers}");
            Assert.True(response.IsSuccessStatusCode);
            Assert.Equal(app, Header(response, "Access-Control-Allow-Origin"));
            Assert.Contains("PUT", Header(response, "Access-Control-Allow-Methods"), StringComparison.Ordinal);
            Assert.Contains("content-type", Header(response, "Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);
            Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
            Assert.Equal("120", Header(response, "Access-Control-Max-Age"));
        }

        using (var produce = await SendAsync(server, HttpMethod.Post, $"/v1/topics/{topic}/messages", origin: app, body: "from the app"))
        {
            Assert.Equal(HttpStatusCode.OK, produce.StatusCode);
            Assert.Equal(app, Header(produce, "Access-Control-Allow-Origin"));
            Assert.Contains("Location", Header(produce, "Access-Control-Expose-Headers"), StringComparison.Ordinal);
        }

        // An SSE stream for the page (EventSource sends its Origin).
        using (var events = await SendAsync(server, HttpMethod.Get, $"/v1/topics/{topic}/messages?partition=0&offset=0", origin: app, accept: "text/event-stream"))
        {
            Assert.Equal(HttpStatusCode.OK, events.StatusCode);
            Assert.Equal(app, Header(events, "Access-Control-Allow-Origin"));
        }

        using (var other = await SendAsync(server, HttpMethod.Post, $"/v1/topics/{topic}/messages", origin: Evil, body: "forged"))
        {
            await AssertProblemAsync(other, HttpStatusCode.Forbidden, "origin-not-allowed");
        }

        Assert.Equal(1, (await server.Client.EndOffsetsAsync(topic)).Sum());
    }

    [Fact]
    public async Task CorsOff_ByDefault_NoCorsHeadersAreSent()
    {
        await using var server = await ServerProcess.StartNewAsync();
        using var response = await SendAsync(server, HttpMethod.Get, "/healthz", origin: $"http://127.0.0.1:{server.Port}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("origin with a path", "--cors-allowed-origins https://app.example.com/path", "is not an origin")]
    [InlineData("credentials with any origin", "--cors-allowed-origins * --cors-allow-credentials", "cannot be used with")]
    [InlineData("bad host name", "--allowed-hosts bad_host!", "is not a host name")]
    public async Task BadBrowserSetting_Exits2_SayingWhy(string name, string args, string expected)
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync(args.Split(' '));
        output.WriteLine($"{name}: {stderr}");
        Assert.Equal(2, exitCode);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    private static async Task<HttpStatusCode> StatusForHostAsync(ServerProcess server, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/topics");
        request.Headers.Host = host;
        using var response = await server.Client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpResponseMessage> SendAsync(ServerProcess server, HttpMethod method, string path, string? origin, string? body = null, string? accept = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body); // text/plain: a "simple" request, no preflight
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (accept is not null)
        {
            request.Headers.Add("Accept", accept);
        }

        return await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static string Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"no {name} header; got {response.Headers}");

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string kind)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("urn:sluice:problem:" + kind, JsonDocument.Parse(body).RootElement.GetProperty("type").GetString());
    }
}
