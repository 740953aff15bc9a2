using System.Security.Cryptography;

namespace Sluice.Server.Security;

/// <summary>One verification key: an HS256 secret, an RSA public key (RS256) or a P-256 public key (ES256).</summary>
internal sealed class JwtKey
{
    private JwtKey(string? kid, string algorithm, byte[]? secret, RSA? rsa, ECDsa? ec)
    {
        Kid = kid;
        Algorithm = algorithm;
        Secret = secret;
        Rsa = rsa;
        Ec = ec;
    }

    /// <summary>The key id a token names in its header; null for keys from a single-key file.</summary>
    public string? Kid { get; }

    /// <summary>The one algorithm this key verifies: HS256, RS256 or ES256.</summary>
    public string Algorithm { get; }

    public byte[]? Secret { get; }

    public RSA? Rsa { get; }

    public ECDsa? Ec { get; }

    /// <summary>32 bytes: RFC 7518 section 3.2 requires an HS256 key at least as long as the hash.</summary>
    public const int MinSecretBytes = 32;

    public static JwtKey Hmac(string? kid, byte[] secret)
        => secret.Length >= MinSecretBytes
            ? new JwtKey(kid, "HS256", secret, null, null)
            : throw new FormatException($"an HS256 key must be at least {MinSecretBytes} bytes; this one has {secret.Length}");

    public static JwtKey ForRsa(string? kid, RSA rsa)
        => rsa.KeySize >= 2048 ? new JwtKey(kid, "RS256", null, rsa, null) : throw new FormatException($"an RS256 key must be at least 2048 bits; this one has {rsa.KeySize}");

    public static JwtKey ForEc(string? kid, ECDsa ec)
    {
        var curve = ec.ExportParameters(false).Curve;
        if (!curve.IsNamed || curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new FormatException("an ES256 key must be on curve P-256");
        }

        return new JwtKey(kid, "ES256", null, null, ec);
    }

    public bool Verify(ReadOnlySpan<byte> signed, ReadOnlySpan<byte> signature)
    {
        switch (Algorithm)
        {
            case "HS256":
                Span<byte> mac = stackalloc byte[32];
                HMACSHA256.HashData(Secret, signed, mac);
                return signature.Length == mac.Length && CryptographicOperations.FixedTimeEquals(mac, signature);
            case "RS256":
                return Rsa!.VerifyData(signed, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            case "ES256":
                return signature.Length == 64 && Ec!.VerifyData(signed, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            default:
                return false;
        }
    }
}
