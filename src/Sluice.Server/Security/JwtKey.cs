using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Sluice.Server.Security;

/// <summary>
/// One verification key: an HS256 secret, an RSA public key (RS256) or a P-256 public key (ES256), as the token library's
/// <see cref="SecurityKey"/>, with the one algorithm it may verify.
/// </summary>
internal sealed class JwtKey
{
    private JwtKey(string? kid, string algorithm, SecurityKey key)
    {
        Kid = kid;
        Algorithm = algorithm;
        Key = key;
    }

    /// <summary>The key id a token names in its header; null for keys from a single-key file.</summary>
    public string? Kid { get; }

    /// <summary>The one algorithm this key verifies: HS256, RS256 or ES256.</summary>
    public string Algorithm { get; }

    public SecurityKey Key { get; }

    /// <summary>32 bytes: RFC 7518 section 3.2 requires an HS256 key at least as long as the hash.</summary>
    public const int MinSecretBytes = 32;

    public static JwtKey Hmac(string? kid, byte[] secret)
        => secret.Length >= MinSecretBytes
            ? new JwtKey(kid, SecurityAlgorithms.HmacSha256, new SymmetricSecurityKey(secret) { KeyId = kid })
            : throw new FormatException($"an HS256 key must be at least {MinSecretBytes} bytes; this one has {secret.Length}");

    public static JwtKey ForRsa(string? kid, RSA rsa)
        => rsa.KeySize >= 2048
            ? new JwtKey(kid, SecurityAlgorithms.RsaSha256, new RsaSecurityKey(rsa) { KeyId = kid })
            : throw new FormatException($"an RS256 key must be at least 2048 bits; this one has {rsa.KeySize}");

    public static JwtKey ForEc(string? kid, ECDsa ec)
    {
        var curve = ec.ExportParameters(false).Curve;
        if (!curve.IsNamed || curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new FormatException("an ES256 key must be on curve P-256");
        }

        return new JwtKey(kid, SecurityAlgorithms.EcdsaSha256, new ECDsaSecurityKey(ec) { KeyId = kid });
    }
}
