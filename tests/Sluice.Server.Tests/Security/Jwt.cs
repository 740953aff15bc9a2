using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sluice.Server.Tests.Security;

/// <summary>Makes compact JWTs the way token tools do (Pulsar's, openssl scripts), including broken ones.</summary>
public static class Jwt
{
    public static string Hs256(byte[] secret, object claims, string? kid = null)
        => Sign(Header("HS256", kid), claims, data => HMACSHA256.HashData(secret, data));

    public static string Rs256(RSA key, object claims, string? kid = null)
        => Sign(Header("RS256", kid), claims, data => key.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public static string Es256(ECDsa key, object claims, string? kid = null)
        => Sign(Header("ES256", kid), claims, data => key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    /// <summary><c>alg: none</c> with an empty signature: must always be refused.</summary>
    public static string None(object claims) => Encode(new { alg = "none", typ = "JWT" }) + "." + Encode(claims) + ".";

    /// <summary>Any header and signer: for tokens that lie about their algorithm.</summary>
    public static string Custom(object header, object claims, Func<byte[], byte[]> sign) => Sign(header, claims, sign);

    public static long Now(int plusSeconds = 0) => DateTimeOffset.UtcNow.ToUnixTimeSeconds() + plusSeconds;

    public static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static Dictionary<string, string> Header(string alg, string? kid)
    {
        var header = new Dictionary<string, string> { ["alg"] = alg, ["typ"] = "JWT" };
        if (kid is not null)
        {
            header["kid"] = kid;
        }

        return header;
    }

    private static string Sign(object header, object claims, Func<byte[], byte[]> sign)
    {
        var signed = Encode(header) + "." + Encode(claims);
        return signed + "." + Base64Url(sign(Encoding.ASCII.GetBytes(signed)));
    }

    private static string Encode(object value) => Base64Url(JsonSerializer.SerializeToUtf8Bytes(value));
}
