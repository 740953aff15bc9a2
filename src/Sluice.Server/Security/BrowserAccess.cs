using System.Net;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>
/// Who a browser may be, resolved from the options once: the allowed CORS origins and the host names served. While
/// authentication is off, these are the only protection against web pages: any page open on the machine could
/// otherwise produce (a <c>text/plain</c> POST needs no preflight), open WebSockets, or reach the gateway under its own
/// domain name by DNS rebinding.
/// </summary>
internal sealed class BrowserAccess
{
    /// <summary>What the host check allows by default on a loopback bind: the names a browser uses for this machine.</summary>
    public static readonly string[] LoopbackHosts = ["localhost", "127.0.0.1", "::1"];

    public BrowserAccess(ServerOptions options)
    {
        Origins = Split(options.CorsAllowedOrigins).Select(o => o.TrimEnd('/')).ToArray();
        AnyOrigin = Origins.Contains("*");
        var hosts = Split(options.AllowedHosts);
        if (hosts.Length == 0)
        {
            // Unset: loopback names while auth is off on a loopback bind; any name otherwise (a public bind has names
            // this server cannot know; with auth on, a rebound page has no token).
            hosts = options.AuthMode == AuthMode.None && IPAddress.TryParse(options.Bind, out var bind) && IPAddress.IsLoopback(bind) ? LoopbackHosts : ["*"];
        }

        Hosts = hosts.Select(h => h.Trim('[', ']')).ToArray();
        AnyHost = Hosts.Contains("*");
        RefuseCrossOrigin = options.AuthMode == AuthMode.None;
    }

    /// <summary>CORS origins (<c>scheme://host[:port]</c>, or <c>*</c>); empty: CORS is off.</summary>
    public string[] Origins { get; }

    public bool AnyOrigin { get; }

    /// <summary>Host names served (without port), or <c>*</c>.</summary>
    public string[] Hosts { get; }

    public bool AnyHost { get; }

    /// <summary>Auth is off: a request from a page of another origin is refused, not merely left unreadable.</summary>
    public bool RefuseCrossOrigin { get; }

    public bool AllowsHost(string host)
    {
        if (AnyHost || host.Length == 0)
        {
            return true; // HTTP/1.0 without Host: not a browser
        }

        // Spans, not Split and substrings: this runs for every request.
        var span = host.AsSpan();
        var name = span[0] == '[' ? span[1..Math.Max(1, span.IndexOf(']'))] : span[..(span.IndexOf(':') is var colon and >= 0 ? colon : span.Length)];
        foreach (var allowed in Hosts)
        {
            if (name.Equals(allowed, StringComparison.OrdinalIgnoreCase)
                || (allowed.StartsWith("*.", StringComparison.Ordinal) && name.EndsWith(allowed.AsSpan(1), StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    public bool AllowsOrigin(string origin) => AnyOrigin || Origins.Contains(origin.TrimEnd('/'), StringComparer.OrdinalIgnoreCase);

    /// <summary>Problems with the CORS and host settings, for the options validator.</summary>
    public static IEnumerable<string> Check(ServerOptions o)
    {
        foreach (var origin in Split(o.CorsAllowedOrigins))
        {
            if (origin != "*" && (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || uri.GetLeftPart(UriPartial.Authority) != origin.TrimEnd('/') || !string.IsNullOrEmpty(uri.UserInfo)))
            {
                yield return $"cors:allowedOrigins: '{Problems.ProblemWriter.Printable(origin, 100)}' is not an origin; write scheme://host[:port] such as https://app.example.com, or *";
            }
        }

        if (o.CorsAllowCredentials && Split(o.CorsAllowedOrigins).Contains("*"))
        {
            yield return "cors:allowCredentials cannot be used with cors:allowedOrigins *: name the origins";
        }

        foreach (var host in Split(o.AllowedHosts))
        {
            var name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host.Trim('[', ']');
            if (host != "*" && Uri.CheckHostName(name) == UriHostNameType.Unknown)
            {
                yield return $"allowedHosts: '{Problems.ProblemWriter.Printable(host, 100)}' is not a host name; write names such as gateway.example.com, *.example.com, 127.0.0.1 or *";
            }
        }
    }

    internal static string[] Split(string? list) => (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
