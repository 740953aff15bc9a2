using Microsoft.AspNetCore.Http.Features;
using Sluice.Server.Problems;

namespace Sluice.Server.Security;

/// <summary>
/// Refuses, before routing, request targets whose path could address another resource than it reads as: a
/// percent-encoded dot, slash or backslash (<c>%2E</c>, <c>%2F</c>, <c>%5C</c>), or a dot segment (<c>.</c>, <c>..</c>).
/// Kestrel decodes and then removes dot segments, so <c>DELETE .../subscriptions/%2E%2E</c> would reach the route of
/// the topic itself. Checked on the raw target, for every route, Sluice's own and any added later.
/// </summary>
internal static class PathGuard
{
    public static void Use(WebApplication app) => app.Use((context, next) =>
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        return raw is not null && Refuses(raw, out var reason)
            ? ProblemWriter.WriteAsync(context, ProblemKind.InvalidName, reason)
            : next(context);
    });

    /// <summary>True, with the reason, when the raw request target's path must be refused.</summary>
    internal static bool Refuses(string rawTarget, out string reason)
    {
        var path = PathOf(rawTarget);
        if (!path.ContainsAny('%', '.'))
        {
            // Neither check below can match (the usual request): one vectorised scan instead of three and a split.
            reason = "";
            return false;
        }

        if (path.Contains("%2E", StringComparison.OrdinalIgnoreCase)
            || path.Contains("%2F", StringComparison.OrdinalIgnoreCase)
            || path.Contains("%5C", StringComparison.OrdinalIgnoreCase))
        {
            reason = "names in the path may not contain percent-encoded '.', '/' or '\\' (%2E, %2F, %5C): send them as they are; encoded, they could change which resource the request addresses";
            return true;
        }

        foreach (var range in path.Split('/'))
        {
            if (path[range] is "." or "..")
            {
                reason = "the path may not contain '.' or '..' segments: they would change which resource the request addresses";
                return true;
            }
        }

        reason = "";
        return false;
    }

    // origin-form "/a/b?q" or absolute-form "http://host/a/b?q"; the query is the handlers' business.
    private static ReadOnlySpan<char> PathOf(string target)
    {
        var span = target.AsSpan();
        var scheme = span.IndexOf("://", StringComparison.Ordinal);
        if (span.Length > 0 && span[0] != '/' && scheme > 0)
        {
            var rest = span[(scheme + 3)..];
            var slash = rest.IndexOf('/');
            span = slash < 0 ? [] : rest[slash..];
        }

        var query = span.IndexOfAny('?', '#');
        return query < 0 ? span : span[..query];
    }
}
