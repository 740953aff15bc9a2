using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>
/// The keys tokens are verified with: those loaded once at start from the secret file, the PEM file and the JWKS file,
/// and those of the JWKS URL (<see cref="JwksClient"/>), which change when the identity provider rotates its keys.
/// </summary>
internal sealed class JwtKeySet
{
    private JwtKeySet(IReadOnlyList<JwtKey> keys, JwksClient? remote)
    {
        Keys = keys;
        Remote = remote;
    }

    /// <summary>The keys from files, fixed at start.</summary>
    public IReadOnlyList<JwtKey> Keys { get; }

    /// <summary>The JWKS URL's keys, when one is configured.</summary>
    public JwksClient? Remote { get; }

    /// <summary>Whether any key, from a file or the URL, has this id.</summary>
    public bool Knows(string kid) => Keys.Any(k => k.Kid == kid) || (Remote?.Keys.Any(k => k.Kid == kid) ?? false);

    /// <summary>
    /// The keys a token may be verified with: those of its algorithm, and of its key id when it names one (then only
    /// that key: an unknown id finds nothing); without an id, every key of the algorithm.
    /// </summary>
    public IEnumerable<Microsoft.IdentityModel.Tokens.SecurityKey> Resolve(string? kid, string algorithm)
    {
        foreach (var key in Remote is { } remote ? Keys.Concat(remote.Keys) : Keys)
        {
            if (key.Algorithm == algorithm && (kid is null || key.Kid == kid))
            {
                yield return key.Key;
            }
        }
    }

    /// <summary>Loads every configured key; a <see cref="FormatException"/> says which file is wrong and why (never the key itself).</summary>
    public static JwtKeySet Load(ServerOptions options, JwksClient? remote = null)
    {
        var keys = new List<JwtKey>();
        if (options.JwtSecretFile is { } secretFile)
        {
            var bytes = File.ReadAllBytes(secretFile);
            if (options.JwtSecretBase64)
            {
                try
                {
                    bytes = Convert.FromBase64String(Encoding.ASCII.GetString(bytes).Trim());
                }
                catch (FormatException)
                {
                    throw new FormatException($"auth:jwtSecretFile {secretFile} is not valid base64 (auth:jwtSecretBase64 is true)");
                }
            }

            keys.Add(Wrap(secretFile, () => JwtKey.Hmac(null, bytes)));
        }

        if (options.JwtPublicKeyFile is { } pemFile)
        {
            keys.Add(Wrap(pemFile, () => FromPem(File.ReadAllText(pemFile))));
        }

        if (options.JwksFile is { } jwksFile)
        {
            keys.AddRange(Wrap(jwksFile, () => FromJwks(File.ReadAllText(jwksFile))));
        }

        if (keys.Count == 0 && options.JwksUrl is null)
        {
            throw new FormatException("auth:mode jwt needs a key: --jwt-secret-file, --jwt-public-key-file, auth:jwksFile or auth:jwksUrl");
        }

        return new JwtKeySet(keys, remote);
    }

    private static T Wrap<T>(string file, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException or ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            throw new FormatException($"cannot read a key from {file}: {ex.GetType().Name}");
        }
        catch (FormatException ex)
        {
            throw new FormatException($"cannot use the key in {file}: {ex.Message}");
        }
    }

    private static JwtKey FromPem(string pem)
    {
        if (pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            throw new FormatException("it holds a private key; give the server only the public key (openssl pkey -pubout)");
        }

        if (pem.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
        {
            using var certificate = X509Certificate2.CreateFromPem(pem);
            if (certificate.GetRSAPublicKey() is { } certRsa)
            {
                return JwtKey.ForRsa(null, certRsa);
            }

            return JwtKey.ForEc(null, certificate.GetECDsaPublicKey() ?? throw new FormatException("the certificate's key is neither RSA nor EC"));
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return JwtKey.ForRsa(null, rsa);
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
        }
        catch (ArgumentException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        ec.ImportFromPem(pem);
        return JwtKey.ForEc(null, ec);
    }

    // A file is the operator's own: any key it cannot use is an error at start.
    private static List<JwtKey> FromJwks(string json)
    {
        using var document = JsonDocument.Parse(json);
        var keys = new List<JwtKey>();
        foreach (var jwk in document.RootElement.GetProperty("keys").EnumerateArray())
        {
            if (FromJwk(jwk, allowSymmetric: true) is { } key)
            {
                keys.Add(key);
            }
        }

        return keys;
    }

    /// <summary>
    /// One JSON Web Key, or null when it is not for signatures (<c>use</c> other than <c>sig</c>). Throws
    /// <see cref="FormatException"/> (or the reader's exceptions) saying why a key cannot be used.
    /// </summary>
    internal static JwtKey? FromJwk(JsonElement jwk, bool allowSymmetric)
    {
        var kid = jwk.TryGetProperty("kid", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
        if (string.IsNullOrEmpty(kid))
        {
            throw new FormatException("every key of a JWKS needs a kid");
        }

        if (jwk.TryGetProperty("use", out var use) && use.GetString() != "sig")
        {
            return null;
        }

        var key = jwk.GetProperty("kty").GetString() switch
        {
            "oct" when allowSymmetric => JwtKey.Hmac(kid, Base64Url.DecodeFromChars(jwk.GetProperty("k").GetString())),
            "oct" => throw new FormatException($"key '{kid}' is a shared secret (kty oct): not taken from a URL"),
            "RSA" => JwtKey.ForRsa(kid, ImportRsa(jwk)),
            "EC" => JwtKey.ForEc(kid, ImportEc(jwk)),
            var other => throw new FormatException($"key '{kid}' has kty '{other}'; supported: oct, RSA, EC"),
        };
        if (jwk.TryGetProperty("alg", out var alg) && alg.GetString() != key.Algorithm)
        {
            throw new FormatException($"key '{kid}' says alg {alg.GetString()} but its type verifies {key.Algorithm}");
        }

        return key;
    }

    private static RSA ImportRsa(JsonElement jwk)
    {
        var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters
        {
            Modulus = Base64Url.DecodeFromChars(jwk.GetProperty("n").GetString()),
            Exponent = Base64Url.DecodeFromChars(jwk.GetProperty("e").GetString()),
        });
        return rsa;
    }

    private static ECDsa ImportEc(JsonElement jwk)
    {
        if (jwk.GetProperty("crv").GetString() != "P-256")
        {
            throw new FormatException("EC keys must be on curve P-256 (ES256)");
        }

        return ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint
            {
                X = Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()),
                Y = Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()),
            },
        });
    }
}
