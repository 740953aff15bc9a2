using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>
/// Keys from <c>auth:jwksUrl</c>, served by a real identity-provider stand-in on loopback that rotates its keys: the
/// server fetches them at start, a token with a new key id makes it fetch again (once), a removed key stops working,
/// and tokens with made-up key ids cannot make it fetch more often than the minimum interval.
/// </summary>
public sealed class JwksUrlTests(ITestOutputHelper output) : IAsyncLifetime
{
    private KeyServer _keys = null!;

    public async Task InitializeAsync() => _keys = await KeyServer.StartAsync();

    public async Task DisposeAsync() => await _keys.DisposeAsync();

    [Fact]
    public async Task RotatedKeys_AreFetchedOnTheFirstTokenWithTheNewKeyId_AndRemovedKeysStopWorking()
    {
        using var first = RSA.Create(2048);
        using var second = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var third = RSA.Create(2048);
        _keys.Serve(Rsa("rsa-1", first), Oct("shared-1"));

        await using var server = new ServerProcess(["--auth", "jwt", "--jwks-url", _keys.Url, "--jwks-min-refresh-interval-ms", "0", "--tenant-from-subject"]);
        try
        {
            await server.StartAsync();
            Assert.Equal(1, _keys.Fetches);
            Assert.Equal(HttpStatusCode.OK, await ProduceAsync(server, Jwt.Rs256(first, new { sub = "tests" }, kid: "rsa-1")));

            // A symmetric key published at a URL is not taken: a token "signed" with it is refused.
            Assert.Equal(HttpStatusCode.Unauthorized, await ProduceAsync(server, Jwt.Hs256(SharedSecret, new { sub = "tests" }, kid: "shared-1")));

            // The provider rotates: the old key is gone, a new one (another type) is in.
            _keys.Serve(Ec("ec-2", second), Rsa("rsa-3", third));
            var before = _keys.Fetches;
            Assert.Equal(HttpStatusCode.OK, await ProduceAsync(server, Jwt.Es256(second, new { sub = "tests" }, kid: "ec-2")));
            Assert.Equal(before + 1, _keys.Fetches);

            // Known now: no further fetch for it, nor for the other new key.
            Assert.Equal(HttpStatusCode.OK, await ProduceAsync(server, Jwt.Es256(second, new { sub = "tests" }, kid: "ec-2")));
            Assert.Equal(HttpStatusCode.OK, await ProduceAsync(server, Jwt.Rs256(third, new { sub = "tests" }, kid: "rsa-3")));
            Assert.Equal(before + 1, _keys.Fetches);

            // The removed key no longer verifies anything, and a new key's id does not let the old key in.
            Assert.Equal(HttpStatusCode.Unauthorized, await ProduceAsync(server, Jwt.Rs256(first, new { sub = "tests" }, kid: "rsa-1")));
            Assert.Equal(HttpStatusCode.Unauthorized, await ProduceAsync(server, Jwt.Rs256(first, new { sub = "tests" }, kid: "rsa-3")));
            Assert.Contains("Fetched the JSON Web Key Set", server.Output, StringComparison.Ordinal);
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 40);
        }
    }

    [Fact]
    public async Task TokensWithUnknownKeyIds_DoNotFetchMoreOftenThanTheMinimumInterval()
    {
        using var key = RSA.Create(2048);
        using var stranger = RSA.Create(2048);
        _keys.Serve(Rsa("rsa-1", key));
        await using var server = new ServerProcess(["--auth", "jwt", "--jwks-url", _keys.Url, "--jwks-min-refresh-interval-ms", "3600000", "--tenant-from-subject"]);
        try
        {
            await server.StartAsync();
            Assert.Equal(1, _keys.Fetches);

            var refused = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => ProduceAsync(server, Jwt.Rs256(stranger, new { sub = "tests" }, kid: "made-up-" + i))));
            Assert.All(refused, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
            Assert.Equal(1, _keys.Fetches);
            Assert.Equal(HttpStatusCode.OK, await ProduceAsync(server, Jwt.Rs256(key, new { sub = "tests" }, kid: "rsa-1")));
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 40);
        }
    }

    [Fact]
    public async Task AProviderThatIsDownAtStart_DoesNotStopTheServer_AndIsAskedAgainForAnUnknownKey()
    {
        using var key = RSA.Create(2048);
        _keys.FailWith = HttpStatusCode.ServiceUnavailable;
        await using var server = new ServerProcess(["--auth", "jwt", "--jwks-url", _keys.Url, "--jwks-min-refresh-interval-ms", "0", "--tenant-from-subject"]);
        try
        {
            await server.StartAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, await ProduceAsync(server, Jwt.Rs256(key, new { sub = "tests" }, kid: "rsa-1")));

            _keys.FailWith = null;
            _keys.Serve(Rsa("rsa-1", key));
            Assert.Equal(HttpStatusCode.OK, await ProduceAsync(server, Jwt.Rs256(key, new { sub = "tests" }, kid: "rsa-1")));
            Assert.Contains("HTTP 503", server.Output, StringComparison.Ordinal);
        }
        finally
        {
            server.WriteOutputTo(output, lastLines: 40);
        }
    }

    private static readonly byte[] SharedSecret = RandomNumberGenerator.GetBytes(32);

    private static object Rsa(string kid, RSA key)
    {
        var p = key.ExportParameters(false);
        return new { kty = "RSA", kid, use = "sig", alg = "RS256", n = Jwt.Base64Url(p.Modulus!), e = Jwt.Base64Url(p.Exponent!) };
    }

    private static object Ec(string kid, ECDsa key)
    {
        var p = key.ExportParameters(false);
        return new { kty = "EC", kid, crv = "P-256", x = Jwt.Base64Url(p.Q.X!), y = Jwt.Base64Url(p.Q.Y!) };
    }

    private static object Oct(string kid) => new { kty = "oct", kid, k = Jwt.Base64Url(SharedSecret) };

    private async Task<HttpStatusCode> ProduceAsync(ServerProcess server, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/tests/ns/jwks/messages") { Content = new StringContent("x") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await server.Client.SendAsync(request);
        output.WriteLine($"{(int)response.StatusCode} {response.Headers.WwwAuthenticate}");
        return response.StatusCode;
    }

    /// <summary>An identity provider's key endpoint: Kestrel on a loopback port, serving whatever key set it is given.</summary>
    private sealed class KeyServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private volatile string _document = "{\"keys\":[]}";
        private int _fetches;

        private KeyServer(WebApplication app) => _app = app;

        public string Url { get; private set; } = "";

        public int Fetches => Volatile.Read(ref _fetches);

        public HttpStatusCode? FailWith { get; set; }

        public static async Task<KeyServer> StartAsync()
        {
            var app = LoopbackApp.Create();
            var server = new KeyServer(app);
            app.MapGet("/.well-known/jwks.json", server.Handle);
            server.Url = await LoopbackApp.StartAsync(app) + "/.well-known/jwks.json";
            return server;
        }

        public void Serve(params object[] keys) => _document = JsonSerializer.Serialize(new { keys });

        public ValueTask DisposeAsync() => _app.DisposeAsync();

        private async Task Handle(HttpContext context)
        {
            Interlocked.Increment(ref _fetches);
            if (FailWith is { } status)
            {
                context.Response.StatusCode = (int)status;
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(_document);
        }
    }
}
