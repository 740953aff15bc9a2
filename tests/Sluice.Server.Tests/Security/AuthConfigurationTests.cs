using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>Auth settings end to end: the default (none, loudly), key files in each form, issuer and audience, and bad settings exiting 2.</summary>
public sealed class AuthConfigurationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Default_IsAuthNone_WarnedAtStart_AndReportedByHealth()
    {
        await using var server = await ServerProcess.StartNewAsync();
        var health = await SluiceApi.ReadJsonAsync(await server.Client.GetAsync("/healthz"));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal("none", health.GetProperty("auth").GetString());
        Assert.Contains("SLUICE HAS NO AUTHENTICATION", server.Output, StringComparison.Ordinal);

        // Everything is allowed, as before.
        await server.Client.ProduceAsync(SluiceApi.NewTopic(), "open");
    }

    [Fact]
    public async Task Base64SecretFile_PemPublicKey_IssuerAndAudience_AreEnforced()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        using var rsa = RSA.Create(2048);
        await using var server = new ServerProcess(["--auth", "jwt", "--jwt-secret-file", "secret.b64", "--jwt-secret-base64", "--jwt-public-key-file", "public.pem",
            "--jwt-issuer", "https://issuer.example", "--jwt-audience", "sluice", "--tenant-from-subject"]);
        await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "secret.b64"), Convert.ToBase64String(secret) + "\n");
        await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "public.pem"), rsa.ExportSubjectPublicKeyInfoPem());
        await server.StartAsync();
        var route = $"/v1/topics/{SluiceApi.NewTopic()}/messages";

        async Task<HttpStatusCode> ProduceWith(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = new StringContent("x") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await server.Client.SendAsync(request);
            output.WriteLine($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return response.StatusCode;
        }

        const string iss = "https://issuer.example";
        Assert.Equal(HttpStatusCode.OK, await ProduceWith(Jwt.Hs256(secret, new { sub = "tests", iss, aud = "sluice" })));
        Assert.Equal(HttpStatusCode.OK, await ProduceWith(Jwt.Rs256(rsa, new { sub = "tests", iss, aud = new[] { "other", "sluice" } })));
        Assert.Equal(HttpStatusCode.Unauthorized, await ProduceWith(Jwt.Hs256(secret, new { sub = "tests", iss = "https://evil.example", aud = "sluice" })));
        Assert.Equal(HttpStatusCode.Unauthorized, await ProduceWith(Jwt.Hs256(secret, new { sub = "tests", iss })));
        Assert.Equal(HttpStatusCode.Unauthorized, await ProduceWith(Jwt.Hs256(secret, new { sub = "tests", iss, aud = "someone-else" })));

        // The base64 text itself is not the key.
        Assert.Equal(HttpStatusCode.Unauthorized, await ProduceWith(Jwt.Hs256(System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(secret)), new { sub = "tests", iss, aud = "sluice" })));
        Assert.Equal(HttpStatusCode.Forbidden, await ProduceWith(Jwt.Hs256(secret, new { sub = "not-tests", iss, aud = "sluice" })));
    }

    [Fact]
    public async Task RoleClaim_AsAnArray_GivesTheCallerEachRole()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var server = new ServerProcess(["--auth", "jwt", "--jwt-secret-file", "secret.key", "--jwt-role-claim", "roles", "--tenant-from-subject"]);
        await File.WriteAllBytesAsync(Path.Combine(server.WorkingDirectory, "secret.key"), secret);
        await server.StartAsync();

        async Task<HttpStatusCode> ProduceWith(object claims)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/topics/tests/ns/roles/messages") { Content = new StringContent("x") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Jwt.Hs256(secret, claims));
            using var response = await server.Client.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await ProduceWith(new { sub = "someone", roles = new[] { "reporting", "tests" } }));
        Assert.Equal(HttpStatusCode.OK, await ProduceWith(new { sub = "someone", roles = "tests" }));
        Assert.Equal(HttpStatusCode.Forbidden, await ProduceWith(new { sub = "tests", roles = new[] { "reporting" } }));
        Assert.Equal(HttpStatusCode.Unauthorized, await ProduceWith(new { sub = "tests" }));
    }

    [Theory]
    [InlineData("jwt without a key", "--auth jwt --superuser-role ops", "needs a key")]
    [InlineData("keys without jwt", "--jwt-secret-file secret.key --superuser-role ops", "auth:mode is none")]
    [InlineData("jwt granting nothing", "--auth jwt --jwt-secret-file secret.key", "grants nothing")]
    [InlineData("short secret", "--auth jwt --jwt-secret-file short.key --superuser-role ops", "at least 32 bytes")]
    [InlineData("private key as the public key", "--auth jwt --jwt-public-key-file private.pem --superuser-role ops", "private key")]
    [InlineData("missing key file", "--auth jwt --jwt-secret-file nowhere.key --superuser-role ops", "auth:jwtSecretFile")]
    [InlineData("unknown mode", "--auth basic", "auth:mode")]
    [InlineData("jwks over plain http", "--auth jwt --jwks-url http://keys.example.com/jwks.json --superuser-role ops", "auth:jwksUrl must use https")]
    [InlineData("jwks url that is not a url", "--auth jwt --jwks-url not-a-url --superuser-role ops", "auth:jwksUrl must be an absolute https URL")]
    [InlineData("tls cert without key", "--tls-cert-file secret.key", "tls:keyFile")]
    [InlineData("bad rate", "--tenant-requests-per-second -1", "limits:tenantRequestsPerSecond")]
    public async Task BadAuthSetting_Exits2_SayingWhy(string name, string args, string expected)
    {
        await using var server = new ServerProcess();
        await File.WriteAllBytesAsync(Path.Combine(server.WorkingDirectory, "secret.key"), RandomNumberGenerator.GetBytes(32));
        await File.WriteAllBytesAsync(Path.Combine(server.WorkingDirectory, "short.key"), RandomNumberGenerator.GetBytes(8));
        using (var rsa = RSA.Create(2048))
        {
            await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "private.pem"), rsa.ExportPkcs8PrivateKeyPem());
        }

        var (exitCode, stderr) = await server.RunToExitAsync(args.Split(' '));
        output.WriteLine($"{name}: {stderr}");
        Assert.Equal(2, exitCode);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("BEGIN", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadGrantInOptionsFile_Exits2_NamingTheRole()
    {
        await using var server = new ServerProcess();
        await File.WriteAllBytesAsync(Path.Combine(server.WorkingDirectory, "secret.key"), RandomNumberGenerator.GetBytes(32));
        await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "sluice.yaml"), "auth:\n  mode: jwt\n  jwtSecretFile: secret.key\n  roles:\n    app1: \"acme/orders=produce,delete\"\n");
        var (exitCode, stderr) = await server.RunToExitAsync();
        output.WriteLine(stderr);
        Assert.Equal(2, exitCode);
        Assert.Contains("app1", stderr, StringComparison.Ordinal);
        Assert.Contains("delete", stderr, StringComparison.Ordinal);
    }
}
