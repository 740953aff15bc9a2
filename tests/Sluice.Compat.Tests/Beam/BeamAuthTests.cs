using System.Net;
using System.Security.Cryptography;
using System.Text;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Security;

namespace Sluice.Compat.Tests.Beam;

/// <summary>
/// A server with <c>--auth jwt</c> (an HS256 key as Pulsar's token tool makes), superuser role <c>ops</c>, role
/// <c>writer</c> allowed to produce in <c>acme/ns</c>, and Beam's clusters limited to one URL.
/// </summary>
public sealed class BeamAuthServer : IAsyncLifetime
{
    public const string Cluster = "pulsar+ssl://pulsar.example.com:6651";

    public BeamAuthServer()
    {
        Server = new ServerProcess([.. CompatServer.Args, "--auth", "jwt", "--jwt-secret-file", "secret.key", "--superuser-role", "ops", "--beam-clusters", Cluster]);
    }

    public ServerProcess Server { get; }

    public byte[] Secret { get; } = RandomNumberGenerator.GetBytes(32);

    public string Token(string subject) => Jwt.Hs256(Secret, new { sub = subject });

    public async Task InitializeAsync()
    {
        await File.WriteAllBytesAsync(Path.Combine(Server.WorkingDirectory, "secret.key"), Secret);
        await File.WriteAllTextAsync(Path.Combine(Server.WorkingDirectory, "sluice.yaml"), """
            auth:
              roles:
                writer: "acme/ns=produce"
            """);
        await Server.StartAsync();
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Beam's authentication (tokens with or without <c>Bearer</c>), its tenant rule on documents, and cluster URLs.</summary>
[Trait("Backend", "EmbeddedOnly")] // authentication sits in front of the backend: one pass is enough
public sealed class BeamAuthTests(BeamAuthServer fixture, ITestOutputHelper output) : IClassFixture<BeamAuthServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Server.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Firehose_AcceptsTheTokenWithOrWithoutBearer(bool bearer)
    {
        var token = fixture.Token("writer");
        using var response = await SendAsync(HttpMethod.Post, $"/v2/firehose/p/acme/ns/{Names.Unique("tok")}", bearer ? "Bearer " + token : token, "x");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Firehose_WithoutAToken_Gets401_AndWithoutThePermission_Gets403()
    {
        var topic = $"acme/ns/{Names.Unique("deny")}";
        using (var none = await SendAsync(HttpMethod.Post, $"/v2/firehose/p/{topic}", null, "x"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("Unauthorized", (await SluiceApi.ReadJsonAsync(none)).GetProperty("error").GetString());
        }

        using (var forged = await SendAsync(HttpMethod.Post, $"/v2/firehose/p/{topic}", Jwt.Hs256(RandomNumberGenerator.GetBytes(32), new { sub = "ops" }), "x"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }

        var other = $"globex/ns/{Names.Unique("other")}";
        using (var elsewhere = await SendAsync(HttpMethod.Post, $"/v2/firehose/p/{other}", fixture.Token("writer"), "x"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, elsewhere.StatusCode);
            Assert.True((await SluiceApi.ReadJsonAsync(elsewhere)).TryGetProperty("error", out _));
        }

        using var admin = Authorized(fixture.Token("ops"));
        Assert.Empty(await admin.EndOffsetsAsync(other));
    }

    [Fact]
    public async Task PulsarUrl_MustBeAConfiguredCluster()
    {
        var topic = $"acme/ns/{Names.Unique("cluster")}";
        using (var known = await SendAsync(HttpMethod.Post, $"/v2/firehose/p/{topic}", fixture.Token("writer"), "x", pulsarUrl: BeamAuthServer.Cluster))
        {
            Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        }

        using var unknown = await SendAsync(HttpMethod.Post, $"/v2/firehose/p/{topic}", fixture.Token("writer"), "x", pulsarUrl: "pulsar://elsewhere:6650");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal("pulsar cluster pulsar://elsewhere:6650 is not allowed", (await SluiceApi.ReadJsonAsync(unknown)).GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("acme", HttpStatusCode.Created)]
    [InlineData("acme-admin", HttpStatusCode.Created)]
    [InlineData("someone,acme", HttpStatusCode.Created)]
    [InlineData("ops", HttpStatusCode.Created)]
    [InlineData("acmex", HttpStatusCode.Forbidden)]
    [InlineData("globex-acme", HttpStatusCode.Forbidden)]
    [InlineData("writer", HttpStatusCode.Forbidden)]
    public async Task TopicDocuments_FollowBeamsTenantRule(string subject, HttpStatusCode expected)
    {
        var document = BeamApi.Document($"persistent://acme/ns/{Names.Unique("rule")}");
        using var response = await SendAsync(HttpMethod.Post, "/v2/topic", fixture.Token(subject), System.Text.Json.JsonSerializer.Serialize(document));
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task TopicDocument_Missing_Is404_BeforeTheTenantRule_AndAnothersIs403()
    {
        var document = BeamApi.Document($"persistent://acme/ns/{Names.Unique("owned")}");
        using var created = await SendAsync(HttpMethod.Post, "/v2/topic", fixture.Token("acme"), System.Text.Json.JsonSerializer.Serialize(document));
        var key = (await SluiceApi.ReadJsonAsync(created)).GetProperty("Key").GetString();

        using var missing = await SendAsync(HttpMethod.Get, "/v2/topic/" + new string('0', 40), fixture.Token("globex"), null);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var foreign = await SendAsync(HttpMethod.Get, "/v2/topic/" + key, fixture.Token("globex"), null);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var deleteForeign = await SendAsync(HttpMethod.Delete, "/v2/topic/" + key, fixture.Token("globex"), null);
        Assert.Equal(HttpStatusCode.Forbidden, deleteForeign.StatusCode);
        using var own = await SendAsync(HttpMethod.Get, "/v2/topic/" + key, fixture.Token("acme-ops"), null);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task Status_NeedsAnAuthorizationHeader()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await _client.GetAsync("/status")).StatusCode);
        using var response = await SendAsync(HttpMethod.Get, "/status", fixture.Token("anyone"), null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Kateway_WithJwtOnAndNoApps_RefusesEveryone()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/kateway/v1/msgs/t/v1") { Content = new StringContent("x") };
        request.Headers.Add("Appid", "app1");
        request.Headers.Add("Pubkey", "anything");
        request.Headers.Add("Authorization", "Bearer " + fixture.Token("ops"));
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("authentication fails", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    private HttpClient Authorized(string token)
    {
        var client = new HttpClient { BaseAddress = _client.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? authorization, string? body, string? pulsarUrl = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (pulsarUrl is not null)
        {
            request.Headers.Add("PulsarUrl", pulsarUrl);
        }

        return await _client.SendAsync(request);
    }
}
