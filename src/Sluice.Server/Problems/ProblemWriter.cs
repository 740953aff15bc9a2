using System.Text;
using Sluice.Server.Hosting;

namespace Sluice.Server.Problems;

/// <summary>Writes RFC 9457 <c>application/problem+json</c> answers.</summary>
internal static class ProblemWriter
{
    public const string ContentType = "application/problem+json";

    public static Task WriteAsync(HttpContext context, ProblemKind kind, string detail)
    {
        var response = context.Response;
        response.StatusCode = kind.Status;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-store";
        var problem = new ProblemResponse(kind.Type, kind.Title, kind.Status, Printable(detail), Printable(context.Request.Path.Value));
        return System.Text.Json.JsonSerializer.SerializeAsync(response.Body, problem, SluiceJsonContext.Api.ProblemResponse, context.RequestAborted);
    }

    /// <summary>Never echo raw control characters (or endless input) back to a client.</summary>
    public static string Printable(string? s, int max = 500)
    {
        if (string.IsNullOrEmpty(s))
        {
            return "";
        }

        var needs = s.Length > max;
        foreach (var c in s)
        {
            if (char.IsControl(c))
            {
                needs = true;
                break;
            }
        }

        if (!needs)
        {
            return s;
        }

        var sb = new StringBuilder(Math.Min(s.Length, max) + 3);
        foreach (var c in s.AsSpan(0, Math.Min(s.Length, max)))
        {
            sb.Append(char.IsControl(c) ? '?' : c);
        }

        return s.Length > max ? sb.Append("...").ToString() : sb.ToString();
    }
}
