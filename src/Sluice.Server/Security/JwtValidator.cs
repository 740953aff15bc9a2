using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>
/// Verifies a compact JWS (header.payload.signature) and reads the caller's roles from it.
/// <code>
///   split ──► header: alg in {HS256, RS256, ES256} (never none), no crit; kid, when present, names a known key
///         ──► a key whose algorithm is the header's ──► signature verifies over "header.payload"
///         ──► exp, nbf (with clock skew), iss, aud when configured ──► roles from the role claim
/// </code>
/// Tokens without <c>exp</c> are accepted (Pulsar's token tool makes them). Failure reasons never quote the token.
/// </summary>
internal sealed class JwtValidator
{
    /// <summary>8 KiB: far above any real token, and below Kestrel's header limit.</summary>
    public const int MaxTokenLength = 8 * 1024;

    private readonly JwtKeySet _keys;
    private readonly TimeProvider _time;
    private readonly ServerOptions _options;
    private readonly AccessPolicy _policy;

    public JwtValidator(JwtKeySet keys, TimeProvider time, IOptions<ServerOptions> options, AccessPolicy policy)
    {
        _keys = keys;
        _time = time;
        _options = options.Value;
        _policy = policy;
    }

    public readonly record struct Result(Caller? Caller, string? Failure);

    public Result Validate(string token)
    {
        if (token.Length is 0 or > MaxTokenLength)
        {
            return Fail("the token is empty or too long");
        }

        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return Fail("the token is not a signed JWT (header.payload.signature)");
        }

        byte[] headerBytes, payloadBytes, signature;
        try
        {
            headerBytes = Base64Url.DecodeFromChars(parts[0]);
            payloadBytes = Base64Url.DecodeFromChars(parts[1]);
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (FormatException)
        {
            return Fail("the token is not base64url");
        }

        string alg;
        string? kid;
        try
        {
            using var header = JsonDocument.Parse(headerBytes);
            var root = header.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("alg", out var a) || a.ValueKind != JsonValueKind.String)
            {
                return Fail("the token header names no algorithm");
            }

            alg = a.GetString()!;
            kid = root.TryGetProperty("kid", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
            if (root.TryGetProperty("crit", out _))
            {
                return Fail("the token has critical header extensions this server does not understand");
            }
        }
        catch (JsonException)
        {
            return Fail("the token header is not JSON");
        }

        if (alg is not ("HS256" or "RS256" or "ES256"))
        {
            return Fail("the token's algorithm is not accepted; accepted: HS256, RS256, ES256");
        }

        var signed = Encoding.ASCII.GetBytes(token, 0, parts[0].Length + 1 + parts[1].Length);
        var anyKey = false;
        var verified = false;
        foreach (var key in _keys.Keys)
        {
            // A token naming a key id is checked only against that key; one without is tried against every key.
            if (kid is not null && key.Kid != kid)
            {
                continue;
            }

            anyKey = true;
            if (key.Algorithm == alg && key.Verify(signed, signature))
            {
                verified = true;
                break;
            }
        }

        if (!anyKey)
        {
            return Fail("the token's key id is not known");
        }

        if (!verified)
        {
            return Fail("the token's signature does not verify with any key for its algorithm");
        }

        try
        {
            using var payload = JsonDocument.Parse(payloadBytes);
            return CheckClaims(payload.RootElement);
        }
        catch (JsonException)
        {
            return Fail("the token payload is not JSON");
        }
    }

    private Result CheckClaims(JsonElement claims)
    {
        if (claims.ValueKind != JsonValueKind.Object)
        {
            return Fail("the token payload is not a JSON object");
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var skew = _options.JwtClockSkewMs / 1000.0;
        if (claims.TryGetProperty("exp", out var exp))
        {
            if (exp.ValueKind != JsonValueKind.Number)
            {
                return Fail("the token's exp is not a number");
            }

            if (exp.GetDouble() + skew <= now)
            {
                return Fail("the token has expired");
            }
        }

        if (claims.TryGetProperty("nbf", out var nbf))
        {
            if (nbf.ValueKind != JsonValueKind.Number)
            {
                return Fail("the token's nbf is not a number");
            }

            if (nbf.GetDouble() - skew > now)
            {
                return Fail("the token is not valid yet (nbf)");
            }
        }

        if (_options.JwtIssuer is { } issuer
            && !(claims.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String && iss.GetString() == issuer))
        {
            return Fail("the token's issuer (iss) is not the expected one");
        }

        if (_options.JwtAudience is { } audience && !HasAudience(claims, audience))
        {
            return Fail("the token's audience (aud) does not include this server");
        }

        var roles = new List<string>();
        if (claims.TryGetProperty(_options.JwtRoleClaim, out var claim))
        {
            if (claim.ValueKind == JsonValueKind.String)
            {
                roles.Add(claim.GetString()!);
            }
            else if (claim.ValueKind == JsonValueKind.Array)
            {
                foreach (var r in claim.EnumerateArray())
                {
                    if (r.ValueKind == JsonValueKind.String)
                    {
                        roles.Add(r.GetString()!);
                    }
                }
            }
        }

        roles.RemoveAll(string.IsNullOrEmpty);
        if (roles.Count == 0)
        {
            return Fail($"the token names no role (claim '{_options.JwtRoleClaim}')");
        }

        return new Result(new Caller(roles, _policy.IsSuperuser(roles)), null);
    }

    private static bool HasAudience(JsonElement claims, string audience)
    {
        if (!claims.TryGetProperty("aud", out var aud))
        {
            return false;
        }

        if (aud.ValueKind == JsonValueKind.String)
        {
            return aud.GetString() == audience;
        }

        return aud.ValueKind == JsonValueKind.Array && aud.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() == audience);
    }

    private static Result Fail(string reason) => new(null, reason);
}
