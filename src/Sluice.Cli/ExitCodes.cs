namespace Sluice.Cli;

/// <summary>
/// The process exit codes scripts can rely on (documented in docs/cli.md). They only grow: a code never changes meaning.
/// </summary>
internal static class ExitCodes
{
    /// <summary>Done as asked.</summary>
    public const int Ok = 0;

    /// <summary>The server failed (5xx) or answered something the client cannot read.</summary>
    public const int ServerError = 1;

    /// <summary>A bad command line or local input: unknown flag, missing argument, bad value, unreadable file or config.</summary>
    public const int Usage = 2;

    /// <summary>404: the topic, subscription, webhook, replicator or message does not exist.</summary>
    public const int NotFound = 3;

    /// <summary>401 or 403: no token, a refused token, or a token without the permission.</summary>
    public const int Auth = 4;

    /// <summary>Another 4xx: the server refused the request as invalid or conflicting (400, 405, 409, 413, 415).</summary>
    public const int Refused = 5;

    /// <summary>The server could not be reached (connection refused, DNS, TLS, timeout) or answered 503.</summary>
    public const int Unavailable = 6;

    /// <summary>429: over a rate limit; try again later.</summary>
    public const int RateLimited = 7;

    /// <summary>Interrupted (Ctrl+C) in a command that is not meant to run until interrupted.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code for an HTTP error status.</summary>
    public static int ForStatus(int status) => status switch
    {
        401 or 403 => Auth,
        404 => NotFound,
        429 => RateLimited,
        503 => Unavailable,
        >= 400 and < 500 => Refused,
        _ => ServerError,
    };
}
