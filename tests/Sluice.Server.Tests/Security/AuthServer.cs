using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>
/// A server with <c>--auth jwt</c>: an HS256 secret file (raw bytes, as Pulsar's token tool writes), a JWKS with an
/// RSA and a P-256 key, superuser role <c>ops</c>, <c>--tenant-from-subject</c>, and role <c>reader</c> allowed to
/// consume in <c>acme/ns</c> only (options file). Tenant <c>acme</c> has topic <c>acme/ns/t</c> with subscription
/// <c>s</c> and a paused webhook <c>wh1</c>.
/// </summary>
public sealed class AuthServer : IAsyncLifetime
{
    public const string Tenant = "acme";
    public const string Topic = "acme/ns/t";
    public const string Subscription = "s";
    public const string WebhookId = "wh1";

    public AuthServer()
    {
        Server = new ServerProcess(["--auth", "jwt", "--jwt-secret-file", "secret.key", "--superuser-role", "ops", "--tenant-from-subject", "--allow-private-webhooks"]);
        Secret = RandomNumberGenerator.GetBytes(32);
        Rsa = RSA.Create(2048);
        Ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    }

    public ServerProcess Server { get; }

    public byte[] Secret { get; }

    public RSA Rsa { get; }

    public ECDsa Ec { get; }

    /// <summary>The superuser, for setting up and for looking at state.</summary>
    public HttpClient Admin { get; private set; } = null!;

    public string Token(string subject) => Jwt.Hs256(Secret, new { sub = subject });

    public HttpClient ClientWith(string? token)
    {
        var client = new HttpClient { BaseAddress = Server.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public async Task InitializeAsync()
    {
        var dir = Server.WorkingDirectory;
        await File.WriteAllBytesAsync(Path.Combine(dir, "secret.key"), Secret);
        var rsa = Rsa.ExportParameters(false);
        var ec = Ec.ExportParameters(false);
        var jwks = new
        {
            keys = new object[]
            {
                new { kty = "RSA", kid = "rsa-1", use = "sig", alg = "RS256", n = Jwt.Base64Url(rsa.Modulus!), e = Jwt.Base64Url(rsa.Exponent!) },
                new { kty = "EC", kid = "ec-1", crv = "P-256", x = Jwt.Base64Url(ec.Q.X!), y = Jwt.Base64Url(ec.Q.Y!) },
            },
        };
        await File.WriteAllTextAsync(Path.Combine(dir, "jwks.json"), JsonSerializer.Serialize(jwks));
        await File.WriteAllTextAsync(Path.Combine(dir, "sluice.yaml"), """
            auth:
              jwksFile: jwks.json
              roles:
                reader:
                  - "acme/ns=consume"
            """);
        await Server.StartAsync();
        Admin = ClientWith(Token("ops"));
        await EnsureFixturesAsync();
    }

    /// <summary>Puts back what a test's allowed requests may have deleted; every step is idempotent.</summary>
    public async Task EnsureFixturesAsync()
    {
        (await Admin.PutAsync($"/v1/topics/{Topic}", SluiceApi.Json(new { partitions = 2 }))).EnsureSuccessStatusCode();
        await Admin.PutSubscriptionAsync(Topic, Subscription, new { position = "earliest" });
        (await Admin.PutAsync($"/v1/webhooks/{WebhookId}", SluiceApi.Json(new { topic = Topic, url = "http://127.0.0.1:9/hook" }))).EnsureSuccessStatusCode();
        (await Admin.PostAsync($"/v1/webhooks/{WebhookId}/pause", null)).EnsureSuccessStatusCode();

        // A replicator of the tenant's namespace, on a topic that does not exist: it changes nothing while it waits.
        (await Admin.PutAsync($"/v1/replicators/{Subscription}", SluiceApi.Json(new { source = new { topic = "acme/ns/replicated" }, sink = new { type = "http", url = "http://127.0.0.1:9/hook" } }))).EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        Admin?.Dispose();
        await Server.DisposeAsync();
        Rsa.Dispose();
        Ec.Dispose();
    }
}
