using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>Which tokens the server accepts and refuses, over real HTTP; and that no token or secret is ever echoed or logged.</summary>
public sealed class JwtTests(AuthServer auth, ITestOutputHelper output) : IClassFixture<AuthServer>, IDisposable
{
    private const string Route = $"/v1/topics/{AuthServer.Topic}";

    public void Dispose() => auth.Server.WriteOutputTo(output, lastLines: 40);

    public static TheoryData<string> Accepted => ["pulsar-style HS256, sub only, no exp", "RS256 from the JWKS", "ES256 from the JWKS", "expired within the clock skew", "exp in the future"];

    [Theory]
    [MemberData(nameof(Accepted))]
    public async Task ValidToken_IsAccepted(string kind)
    {
        var token = kind switch
        {
            "pulsar-style HS256, sub only, no exp" => Jwt.Hs256(auth.Secret, new { sub = "acme" }),
            "RS256 from the JWKS" => Jwt.Rs256(auth.Rsa, new { sub = "acme" }, kid: "rsa-1"),
            "ES256 from the JWKS" => Jwt.Es256(auth.Ec, new { sub = "acme" }, kid: "ec-1"),
            "expired within the clock skew" => Jwt.Hs256(auth.Secret, new { sub = "acme", exp = Jwt.Now(-10) }),
            "exp in the future" => Jwt.Hs256(auth.Secret, new { sub = "acme", exp = Jwt.Now(3600), nbf = Jwt.Now(-10) }),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        using var client = auth.ClientWith(token);
        using var response = await client.GetAsync(Route);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string> Refused =>
    [
        "alg none", "alg None", "alg HS512", "unknown kid", "ES256 header naming the RSA key", "HS256 signed with the RSA public key",
        "RS256 header signed with the HMAC secret", "expired", "not valid yet", "no subject", "two parts", "not base64", "empty signature", "tampered payload",
        "sub as an array (RFC 7519: one string)", "five parts (encrypted)", "crit header",
    ];

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task BadToken_Gets401_WithInvalidTokenChallenge_AndIsNeverEchoed(string kind)
    {
        var good = Jwt.Hs256(auth.Secret, new { sub = "acme" });
        var token = kind switch
        {
            "alg none" => Jwt.None(new { sub = "acme" }),
            "alg None" => Jwt.Custom(new { alg = "None" }, new { sub = "acme" }, _ => []),
            "alg HS512" => Jwt.Custom(new { alg = "HS512" }, new { sub = "acme" }, d => HMACSHA512.HashData(auth.Secret, d)),
            "unknown kid" => Jwt.Hs256(auth.Secret, new { sub = "acme" }, kid: "nope"),
            "ES256 header naming the RSA key" => Jwt.Es256(auth.Ec, new { sub = "acme" }, kid: "rsa-1"),

            // The classic confusion: an HMAC keyed with the public key, hoping the server uses the key for any algorithm.
            "HS256 signed with the RSA public key" => Jwt.Custom(new { alg = "HS256", kid = "rsa-1" }, new { sub = "acme" }, d => HMACSHA256.HashData(auth.Rsa.ExportSubjectPublicKeyInfo(), d)),
            "RS256 header signed with the HMAC secret" => Jwt.Custom(new { alg = "RS256" }, new { sub = "acme" }, d => HMACSHA256.HashData(auth.Secret, d)),
            "expired" => Jwt.Hs256(auth.Secret, new { sub = "acme", exp = Jwt.Now(-600) }),
            "not valid yet" => Jwt.Hs256(auth.Secret, new { sub = "acme", nbf = Jwt.Now(600) }),
            "no subject" => Jwt.Hs256(auth.Secret, new { name = "acme" }),
            "two parts" => string.Join('.', good.Split('.').Take(2)),
            "not base64" => "!!!." + good.Split('.')[1] + "." + good.Split('.')[2],
            "empty signature" => good.Split('.')[0] + "." + good.Split('.')[1] + ".",
            "sub as an array (RFC 7519: one string)" => Jwt.Hs256(auth.Secret, new { sub = new[] { "someone", "acme" } }),
            "five parts (encrypted)" => good + ".e30.e30",
            "crit header" => Jwt.Custom(new { alg = "HS256", crit = new[] { "exp" } }, new { sub = "acme" }, d => HMACSHA256.HashData(auth.Secret, d)),
            "tampered payload" => good.Split('.')[0] + "." + Jwt.Base64Url(Encoding.UTF8.GetBytes("{\"sub\":\"ops\"}")) + "." + good.Split('.')[2],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        using var client = auth.ClientWith(null);
        using var request = new HttpRequestMessage(HttpMethod.Get, Route);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{kind}: {body}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer", challenge, StringComparison.Ordinal);
        Assert.Contains("error=\"invalid_token\"", challenge, StringComparison.Ordinal);
        foreach (var part in token.Split('.').Where(p => p.Length > 8))
        {
            Assert.DoesNotContain(part, body, StringComparison.Ordinal);
            Assert.DoesNotContain(part, challenge, StringComparison.Ordinal);
            Assert.DoesNotContain(part, auth.Server.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Basic YWNtZTpwYXNz")]
    [InlineData("Bearer")]
    [InlineData("token-without-scheme")]
    public async Task MalformedAuthorizationHeader_Gets401(string header)
    {
        using var client = auth.ClientWith(null);
        using var request = new HttpRequestMessage(HttpMethod.Get, Route);
        request.Headers.TryAddWithoutValidation("Authorization", header);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RoleGrants_AllowOnlyWhatTheyName()
    {
        // reader: acme/ns=consume (from the options file).
        using var reader = auth.ClientWith(auth.Token("reader"));
        using (var get = await reader.GetAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/{AuthServer.Subscription}"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }

        using (var produce = await reader.PostAsync($"/v1/topics/{AuthServer.Topic}/messages", new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, produce.StatusCode);
        }

        using (var otherNamespace = await reader.GetAsync("/v1/topics/acme/other/t/subscriptions/s"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, otherNamespace.StatusCode);
        }

        using (var delete = await reader.DeleteAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/{AuthServer.Subscription}"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        }

        // A dead-letter topic in a namespace the caller may not produce to is refused too.
        using var acme = auth.ClientWith(auth.Token("acme"));
        using var dlq = await acme.PutAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/with-dlq", SluiceApi.Json(new { deadLetterTopic = "rival/ns/dlq" }));
        Assert.Equal(HttpStatusCode.Forbidden, dlq.StatusCode);
        using var check = await auth.Admin.GetAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/with-dlq");
        Assert.Equal(HttpStatusCode.NotFound, check.StatusCode);
    }

    [Fact]
    public async Task AccessTokenQuery_IsAcceptedOnStreams_AndIgnoredElsewhere()
    {
        var token = Uri.EscapeDataString(auth.Token("acme"));
        using var client = auth.ClientWith(null);
        using (var sse = await client.GetAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/{AuthServer.Subscription}/events?access_token={token}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
            Assert.Equal("text/event-stream", sse.Content.Headers.ContentType?.MediaType);
        }

        using var pull = await client.GetAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/{AuthServer.Subscription}/messages?waitMs=0&access_token={token}");
        Assert.Equal(HttpStatusCode.Unauthorized, pull.StatusCode);
        using var get = await client.GetAsync($"{Route}?access_token={token}");
        Assert.Equal(HttpStatusCode.Unauthorized, get.StatusCode);

        // A WebSocket handshake with the token in the query opens.
        using var ws = new System.Net.WebSockets.ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{auth.Server.Port}/v1/topics/{AuthServer.Topic}/ws/produce?access_token={token}"), CancellationToken.None);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, ws.State);
        await ws.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task WebhookSecret_AndTokens_NeverAppearInAnswersOrLogs()
    {
        const string secret = "whsec_0123456789abcdef0123456789abcdef";
        var token = auth.Token("acme");
        using var acme = auth.ClientWith(token);
        using (var created = await acme.PutAsync("/v1/webhooks/secret-check", SluiceApi.Json(new { topic = AuthServer.Topic, url = "http://127.0.0.1:9/s", secret })))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.DoesNotContain(secret, await created.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await acme.PostAsync("/v1/webhooks/secret-check/pause", null);
        var answers = await acme.GetStringAsync("/v1/webhooks") + await acme.GetStringAsync("/v1/webhooks/secret-check") + await acme.GetStringAsync("/v1/webhooks/secret-check/stats");
        Assert.DoesNotContain(secret, answers, StringComparison.Ordinal);

        // A refused request with a token in the query of a streaming route, and a bad secret: neither is echoed.
        using var rival = auth.ClientWith(auth.Token("rival"));
        using var refused = await rival.GetAsync($"/v1/topics/{AuthServer.Topic}/subscriptions/s/events?access_token={Uri.EscapeDataString(token)}");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.DoesNotContain(token.Split('.')[2], await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var log = auth.Server.Output;
        Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[2], log, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(auth.Secret), log, StringComparison.Ordinal);
        Assert.DoesNotContain(Jwt.Base64Url(auth.Secret), log, StringComparison.Ordinal);
        await acme.DeleteAsync("/v1/webhooks/secret-check");
    }

    [Fact]
    public async Task HealthReportsJwt_AndNeedsNoToken()
    {
        using var client = auth.ClientWith(null);
        var health = await SluiceApi.ReadJsonAsync(await client.GetAsync("/healthz"));
        Assert.Equal("jwt", health.GetProperty("auth").GetString());
        Assert.DoesNotContain("SLUICE HAS NO AUTHENTICATION", auth.Server.Output, StringComparison.Ordinal);
    }
}
