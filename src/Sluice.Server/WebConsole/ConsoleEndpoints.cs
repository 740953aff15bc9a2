using Microsoft.Net.Http.Headers;
using Sluice.Server.Security;

namespace Sluice.Server.WebConsole;

/// <summary>
/// The web console: <c>GET /</c> is its page, <c>GET /console/{path}</c> its styles and scripts. The files hold no data
/// and need no token (the page asks for one and sends it with each API call, from the same origin); answers forbid
/// framing, inline scripts and sending the page's address elsewhere.
/// </summary>
internal static class ConsoleEndpoints
{
    // Scripts and styles only from this origin, no inline code, no frames, API calls to this origin only.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
      + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    public static void Map(WebApplication app)
    {
        var assets = new ConsoleAssets();
        app.MapGet("/", (HttpContext context) => Serve(context, assets, "index.html"))
            .WithName("Console").WithMetadata(AccessRule.Public).ExcludeFromDescription();
        app.MapGet("/console/{**path}", (HttpContext context, string path) => Serve(context, assets, path))
            .WithName("ConsoleAsset").WithMetadata(AccessRule.Public).ExcludeFromDescription();
    }

    private static Task Serve(HttpContext context, ConsoleAssets assets, string path)
    {
        var response = context.Response;
        if (assets.Find(path) is not { } asset)
        {
            return Problems.ProblemWriter.WriteAsync(context, Problems.ProblemKind.RouteNotFound, $"the console has no file '{Problems.ProblemWriter.Printable(path, 100)}'");
        }

        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";

        // Revalidated on every load (the files change with the gateway), answered 304 while unchanged.
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Bytes.Length;
        return response.Body.WriteAsync(asset.Bytes).AsTask();
    }
}
