using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>TLS on the listener from PEM files made at test time, and the optional client-certificate requirement.</summary>
public sealed class TlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var d in _disposables)
        {
            d.Dispose();
        }
    }

    [Fact]
    public async Task TlsListener_ServesHttps_AndNotPlainHttp()
    {
        var serverCert = SelfSigned("CN=localhost");
        await using var server = await StartTlsServerAsync(serverCert);

        await server.Client.ProduceAsync(SluiceApi.NewTopic(), "over tls");
        Assert.Contains("https://", server.Output, StringComparison.Ordinal);

        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync($"http://127.0.0.1:{server.Port}/healthz"));

        // A client that does not trust the certificate refuses the server.
        using var untrusting = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => untrusting.GetAsync($"https://127.0.0.1:{server.Port}/healthz"));
        server.WriteOutputTo(output, 20);
    }

    [Fact]
    public async Task WebSocket_OverHttp2_ConsumesThroughTheTlsListener()
    {
        // HTTP/2 carries a WebSocket as an extended CONNECT (RFC 8441), with no Upgrade header: the server's
        // WebSocket middleware must still see it (it runs only for requests that ask to change protocol).
        var serverCert = SelfSigned("CN=localhost");
        await using var server = await StartTlsServerAsync(serverCert);
        var topic = SluiceApi.NewTopic();
        await server.Client.PutSubscriptionAsync(topic, "s", new { type = "exclusive", position = "earliest" });
        await server.Client.ProduceAsync(topic, "over h2");

        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == serverCert.Thumbprint;
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"wss://127.0.0.1:{server.Port}/v1/topics/{topic}/subscriptions/s/ws?permits=10"), invoker, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode); // HTTP/2's answer to a CONNECT that opened the socket

        var buffer = new byte[64 * 1024];
        var frame = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.True(frame.EndOfMessage);
        using var message = JsonDocument.Parse(buffer.AsMemory(0, frame.Count));
        Assert.Equal("over h2", message.RootElement.GetProperty("value").GetString());
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        server.WriteOutputTo(output, 20);
    }

    [Fact]
    public async Task ClientCa_RequiresAClientCertificateIssuedByIt()
    {
        var serverCert = SelfSigned("CN=localhost");
        var ca = SelfSigned("CN=Sluice test client CA", isCa: true);
        var client = IssuedBy(ca, "CN=client-1");
        var strangerCa = SelfSigned("CN=Another CA", isCa: true);
        var stranger = IssuedBy(strangerCa, "CN=stranger");

        await using var server = new ServerProcess(["--tls-cert-file", "server.crt", "--tls-key-file", "server.key", "--tls-client-ca-file", "ca.crt"])
        {
            Scheme = "https",
            Handler = () => Trusting(serverCert, client),
        };
        await WritePemAsync(server.WorkingDirectory, "server", serverCert);
        await File.WriteAllTextAsync(Path.Combine(server.WorkingDirectory, "ca.crt"), ca.ExportCertificatePem());
        await server.StartAsync();

        using (var ok = await server.Client.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        foreach (var (name, certificate) in new (string, X509Certificate2?)[] { ("no certificate", null), ("another CA's certificate", stranger) })
        {
            using var refused = new HttpClient(Trusting(serverCert, certificate)) { Timeout = TimeSpan.FromSeconds(10) };
            var ex = await Assert.ThrowsAnyAsync<Exception>(() => refused.GetAsync($"https://127.0.0.1:{server.Port}/healthz"));
            output.WriteLine($"{name}: {ex.GetType().Name}: {ex.Message}");
            Assert.True(ex is HttpRequestException or IOException or TaskCanceledException);
        }

        // And it keeps serving the good client.
        using var still = await server.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    // A server on the TLS listener with this certificate, and a client that trusts it.
    private static async Task<ServerProcess> StartTlsServerAsync(X509Certificate2 serverCert)
    {
        var server = new ServerProcess(["--tls-cert-file", "server.crt", "--tls-key-file", "server.key"])
        {
            Scheme = "https",
            Handler = () => Trusting(serverCert, null),
        };
        try
        {
            await WritePemAsync(server.WorkingDirectory, "server", serverCert);
            await server.StartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private static HttpClientHandler Trusting(X509Certificate2 serverCert, X509Certificate2? clientCert)
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == serverCert.Thumbprint,
        };
        if (clientCert is not null)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(clientCert);
        }

        return handler;
    }

    private static async Task WritePemAsync(string dir, string name, X509Certificate2 certificate)
    {
        await File.WriteAllTextAsync(Path.Combine(dir, name + ".crt"), certificate.ExportCertificatePem());
        using var key = certificate.GetECDsaPrivateKey()!;
        await File.WriteAllTextAsync(Path.Combine(dir, name + ".key"), key.ExportPkcs8PrivateKeyPem());
    }

    private X509Certificate2 SelfSigned(string subject, bool isCa = false)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _disposables.Add(key);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (isCa)
        {
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        }
        else
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        _disposables.Add(certificate);
        return certificate;
    }

    private X509Certificate2 IssuedBy(X509Certificate2 ca, string subject)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _disposables.Add(key);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var serial = RandomNumberGenerator.GetBytes(16);
        // Within the issuer's validity: a leaf that outlives its CA by a clock tick is refused by Create.
        using var issued = request.Create(ca, ca.NotBefore.ToUniversalTime(), ca.NotAfter.ToUniversalTime().AddMinutes(-1), serial);
        var withKey = issued.CopyWithPrivateKey(key);

        // Through PKCS#12, so SslStream can use the key as a client certificate.
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        withKey.Dispose();
        _disposables.Add(usable);
        return usable;
    }
}
