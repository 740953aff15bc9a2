using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>
/// Verifies a compact JWS with Microsoft.IdentityModel's <see cref="JsonWebTokenHandler"/> and reads the caller's roles.
/// <code>
///   read ──► header: alg in {HS256, RS256, ES256} (never none), no crit, not encrypted
///        ──► kid unknown and a JWKS URL set? one rate-limited refetch of the key set
///        ──► library: signature with the key(s) of that kid and algorithm only, exp and nbf (clock skew), iss, aud
///        ──► roles from the role claim (a string or an array)
/// </code>
/// Tokens without <c>exp</c> are accepted (Pulsar's token tool makes them). Failure reasons are this class's own
/// sentences: they never quote the token, and the library's messages (which may) are not passed on.
/// </summary>
internal sealed class JwtValidator
{
    /// <summary>8 KiB: far above any real token, and below Kestrel's header limit.</summary>
    public const int MaxTokenLength = 8 * 1024;

    private static readonly string[] Algorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    private readonly JwtKeySet _keys;
    private readonly ServerOptions _options;
    private readonly AccessPolicy _policy;
    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = MaxTokenLength, MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;

    public JwtValidator(JwtKeySet keys, TimeProvider time, IOptions<ServerOptions> options, AccessPolicy policy)
    {
        _keys = keys;
        _options = options.Value;
        _policy = policy;
        _parameters = new TokenValidationParameters
        {
            ValidAlgorithms = Algorithms,
            RequireSignedTokens = true,

            // Pulsar's token tool makes tokens without exp; they never expire.
            RequireExpirationTime = false,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromMilliseconds(_options.JwtClockSkewMs),

            // On the injected clock (the library's own reads the system clock).
            LifetimeValidator = (notBefore, expires, _, _) => CheckLifetime(time.GetUtcNow().UtcDateTime, notBefore, expires),
            ValidateIssuer = _options.JwtIssuer is not null,
            ValidIssuer = _options.JwtIssuer,
            ValidateAudience = _options.JwtAudience is not null,
            ValidAudience = _options.JwtAudience,

            // Only the keys the resolver names are tried: a token naming a kid is checked against that key alone.
            TryAllIssuerSigningKeys = false,
            IssuerSigningKeyResolver = (_, token, kid, _) => _keys.Resolve(string.IsNullOrEmpty(kid) ? null : kid, ((JsonWebToken)token).Alg),
            ValidateIssuerSigningKey = false,
            LogValidationExceptions = false,
        };
    }

    public readonly record struct Result(Caller? Caller, string? Failure);

    public async ValueTask<Result> ValidateAsync(string token)
    {
        if (token.Length is 0 or > MaxTokenLength)
        {
            return Fail("the token is empty or too long");
        }

        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException or FormatException or System.Text.Json.JsonException)
        {
            return Fail("the token is not a signed JWT (header.payload.signature)");
        }

        if (jwt.IsEncrypted)
        {
            return Fail("the token is encrypted (JWE); send a signed JWT");
        }

        if (!Algorithms.Contains(jwt.Alg, StringComparer.Ordinal))
        {
            return Fail("the token's algorithm is not accepted; accepted: HS256, RS256, ES256");
        }

        if (jwt.TryGetHeaderValue<object>("crit", out _))
        {
            return Fail("the token has critical header extensions this server does not understand");
        }

        var kid = string.IsNullOrEmpty(jwt.Kid) ? null : jwt.Kid;
        if (kid is not null && !_keys.Knows(kid))
        {
            if (_keys.Remote is { } remote)
            {
                await remote.RefreshForUnknownKeyAsync();
            }

            if (!_keys.Knows(kid))
            {
                return Fail("the token's key id is not known");
            }
        }

        var result = await _handler.ValidateTokenAsync(jwt, _parameters);
        if (!result.IsValid)
        {
            return Fail(Describe(result.Exception));
        }

        var roles = new List<string>();
        foreach (var claim in jwt.Claims)
        {
            if (claim.Type == _options.JwtRoleClaim && claim.ValueType == System.Security.Claims.ClaimValueTypes.String && claim.Value.Length > 0)
            {
                roles.Add(claim.Value);
            }
        }

        if (roles.Count == 0)
        {
            return Fail($"the token names no role (claim '{_options.JwtRoleClaim}')");
        }

        return new Result(new Caller(roles, _policy.IsSuperuser(roles)), null);
    }

    // exp and nbf, each when present, with the clock skew's slack. Throws the library's exceptions, which it reports.
    private bool CheckLifetime(DateTime now, DateTime? notBefore, DateTime? expires)
    {
        var skew = TimeSpan.FromMilliseconds(_options.JwtClockSkewMs);
        if (expires is { } exp && exp + skew <= now)
        {
            throw new SecurityTokenExpiredException("expired") { Expires = exp };
        }

        if (notBefore is { } nbf && nbf - skew > now)
        {
            throw new SecurityTokenNotYetValidException("not yet valid") { NotBefore = nbf };
        }

        return true;
    }

    private static string Describe(Exception? ex) => ex switch
    {
        SecurityTokenExpiredException => "the token has expired",
        SecurityTokenNotYetValidException => "the token is not valid yet (nbf)",
        SecurityTokenInvalidLifetimeException => "the token's exp or nbf is not valid",
        SecurityTokenInvalidIssuerException => "the token's issuer (iss) is not the expected one",
        SecurityTokenInvalidAudienceException => "the token's audience (aud) does not include this server",
        SecurityTokenSignatureKeyNotFoundException => "the token's signature does not verify with any key for its algorithm",
        SecurityTokenInvalidSignatureException => "the token's signature does not verify with any key for its algorithm",
        SecurityTokenInvalidAlgorithmException => "the token's algorithm is not accepted; accepted: HS256, RS256, ES256",
        SecurityTokenMalformedException => "the token is not a signed JWT (header.payload.signature)",
        _ => "the token was refused",
    };

    private static Result Fail(string reason) => new(null, reason);
}
