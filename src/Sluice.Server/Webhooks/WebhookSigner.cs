using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Server.Webhooks;

/// <summary>
/// Standard Webhooks signing (https://www.standardwebhooks.com): <c>webhook-signature: v1,base64(HMAC-SHA256(key,
/// "{webhook-id}.{webhook-timestamp}.{body}"))</c>, where the key is the base64-decoded part of the secret after <c>whsec_</c>.
/// Receivers verify with the specification's libraries.
/// </summary>
internal static class WebhookSigner
{
    public const string SecretPrefix = "whsec_";

    // The specification asks for keys of 24 to 64 bytes.
    public const int MinKeyBytes = 24;
    public const int MaxKeyBytes = 64;

    /// <summary>A new secret: 32 random bytes (as Svix and the specification's examples use).</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Null when <paramref name="secret"/> is well-formed, otherwise why not (without echoing it).</summary>
    public static string? Validate(string secret)
    {
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return $"secret must be '{SecretPrefix}' followed by base64 (Standard Webhooks form); omit it to have one generated";
        }

        var key = new byte[MaxKeyBytes + 3];
        if (!Convert.TryFromBase64String(secret[SecretPrefix.Length..], key, out var length) || length < MinKeyBytes || length > MaxKeyBytes)
        {
            return $"secret must be '{SecretPrefix}' followed by the base64 of {MinKeyBytes} to {MaxKeyBytes} bytes";
        }

        return null;
    }

    public static byte[] Key(string secret) => Convert.FromBase64String(secret[SecretPrefix.Length..]);

    /// <summary>
    /// The <c>webhook-signature</c> header value, computed with <paramref name="mac"/> (an HMAC-SHA256 keyed with the
    /// webhook's key, used by one caller at a time): reusing a keyed instance costs half a one-shot HMAC, which sets up
    /// the key every time.
    /// </summary>
    public static string Sign(HMACSHA256 mac, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        // One contiguous "{id}.{timestamp}.{body}": one native call per message.
        Span<byte> stamp = stackalloc byte[20];
        timestamp.TryFormat(stamp, out var stampLength, provider: System.Globalization.CultureInfo.InvariantCulture);
        var length = Encoding.UTF8.GetByteCount(id) + 1 + stampLength + 1 + body.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(id, rented);
            rented[written++] = (byte)'.';
            stamp[..stampLength].CopyTo(rented.AsSpan(written));
            written += stampLength;
            rented[written++] = (byte)'.';
            body.CopyTo(rented.AsSpan(written));
            Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
            mac.TryComputeHash(rented.AsSpan(0, length), hash, out _);
            return FormatSignature(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // "v1," + base64(mac) as one string, not a base64 string and then a concatenation.
    private static string FormatSignature(ReadOnlySpan<byte> mac)
    {
        Span<char> text = stackalloc char[3 + 44];
        "v1,".CopyTo(text);
        Convert.TryToBase64Chars(mac, text[3..], out var written);
        return new string(text[..(3 + written)]);
    }

    /// <summary>A hint that tells secrets apart without revealing one: the first characters of its SHA-256.</summary>
    public static string Hint(string secret)
        => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)))[..8];
}
