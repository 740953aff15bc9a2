namespace Sluice.Server.Security;

/// <summary>How callers are authenticated.</summary>
internal enum AuthMode
{
    /// <summary>Everyone may do everything: local use only; the server warns at start and every minute.</summary>
    None,

    /// <summary>Bearer JSON Web Tokens (HS256, RS256, ES256).</summary>
    Jwt,
}
