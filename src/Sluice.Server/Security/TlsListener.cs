using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>
/// TLS on the listener from PEM files (<c>tls:certFile</c> + <c>tls:keyFile</c>); with <c>tls:clientCaFile</c>,
/// every client must present a certificate that chains to one of those CAs (checked against them alone, not the
/// system store), else the handshake fails.
/// </summary>
internal static class TlsListener
{
    public static bool Enabled(ServerOptions options) => options.TlsCertFile is not null;

    /// <summary>Null when the files are usable; else what is wrong (never key material).</summary>
    public static string? Validate(ServerOptions options)
    {
        if ((options.TlsCertFile is null) != (options.TlsKeyFile is null))
        {
            return "tls:certFile and tls:keyFile go together: give both, or neither";
        }

        if (options.TlsClientCaFile is not null && options.TlsCertFile is null)
        {
            return "tls:clientCaFile needs TLS on: give tls:certFile and tls:keyFile too";
        }

        if (options.TlsCertFile is null)
        {
            return null;
        }

        try
        {
            using var certificate = LoadCertificate(options);
            if (!certificate.HasPrivateKey)
            {
                return $"tls:keyFile {options.TlsKeyFile} does not hold the private key of tls:certFile {options.TlsCertFile}";
            }

            if (options.TlsClientCaFile is { } ca)
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(ca);
                if (roots.Count == 0)
                {
                    return $"tls:clientCaFile {ca} holds no certificate";
                }
            }
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException or IOException)
        {
            return $"cannot load the TLS certificate from tls:certFile {options.TlsCertFile} and tls:keyFile {options.TlsKeyFile}: {ex.GetType().Name}";
        }

        return null;
    }

    public static HttpsConnectionAdapterOptions HttpsOptions(ServerOptions options)
    {
        var https = new HttpsConnectionAdapterOptions { ServerCertificate = LoadCertificate(options) };
        if (options.TlsClientCaFile is { } caFile)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.ClientCertificateValidation = (certificate, _, _) => ChainsTo(certificate, roots);
        }

        return https;
    }

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        return chain.Build(certificate);
    }

    private static X509Certificate2 LoadCertificate(ServerOptions options)
    {
        using var pem = X509Certificate2.CreateFromPemFile(options.TlsCertFile!, options.TlsKeyFile);

        // Re-imported through PKCS#12 so the key is usable by SslStream on every platform (a PEM key is ephemeral).
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>For the log line: the scheme clients use.</summary>
    public static string Scheme(ServerOptions options) => Enabled(options) ? "https" : "http";
}
