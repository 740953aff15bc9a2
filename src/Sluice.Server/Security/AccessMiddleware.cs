using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Security;

/// <summary>
/// Authenticates and authorises every request after routing and before its handler, so a refused request
/// never reaches a lookup (403, never 404, for a topic of a tenant the caller may not see) and changes nothing.
/// <code>
///   route's AccessRule ──► Public: on
///                      ──► Adapter: on (a compatibility adapter checks its ancestor's credentials itself)
///                      ──► token: Authorization: Bearer, or ?access_token= on SSE / WebSocket routes only
///                          missing or invalid ──► 401 + WWW-Authenticate: Bearer [error="invalid_token"]
///                      ──► Namespace: {tenant}/{namespace} of the route allows the permission? else 403
///                      ──► PerResource: the handler checks (Access)
///                      ──► no rule: superusers only
/// </code>
/// Auth mode none attaches a caller that may do everything.
/// </summary>
internal sealed partial class AccessMiddleware(RequestDelegate next, IOptions<ServerOptions> options, IServiceProvider services, ILogger<AccessMiddleware> logger)
{
    public const string Realm = "sluice";

    private readonly bool _enabled = options.Value.AuthMode == AuthMode.Jwt;
    private readonly JwtValidator? _validator = options.Value.AuthMode == AuthMode.Jwt ? services.GetRequiredService<JwtValidator>() : null;
    private readonly AccessPolicy _policy = services.GetRequiredService<AccessPolicy>();

    public Task InvokeAsync(HttpContext context)
    {
        if (!_enabled)
        {
            Caller.Unauthenticated.AttachTo(context);
            return next(context);
        }

        Caller.DetachFrom(context);
        return AuthenticatedAsync(context);
    }

    private async Task AuthenticatedAsync(HttpContext context)
    {
        var refusal = await AuthoriseAsync(context);
        if (refusal is null)
        {
            await next(context);
        }
        else
        {
            await refusal;
        }
    }

    // Null: go on to the handler. Else the refusal being written.
    private async ValueTask<Task?> AuthoriseAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            return null; // 404, answered by ProblemMiddleware
        }

        var rule = AccessRules.For(endpoint);
        if (rule is { Scope: AccessScope.Public or AccessScope.Adapter } || (rule is null && IsRoutingRejection(endpoint)))
        {
            return null;
        }

        var token = Token(context, rule?.AcceptsQueryToken == true, out var malformed);
        if (token is null)
        {
            return Unauthorized(context, malformed ? "the Authorization header must be 'Bearer <token>'" : null);
        }

        var result = await _validator!.ValidateAsync(token);
        if (result.Caller is not { } caller)
        {
            return Unauthorized(context, result.Failure!);
        }

        caller.AttachTo(context);
        if (rule is null)
        {
            if (!caller.IsSuperuser)
            {
                Log.RouteWithoutAccessRule(logger, endpoint.DisplayName ?? "(unnamed)");
                return Forbidden(context, "this route is open to superusers only");
            }
        }
        else if (rule.Scope == AccessScope.Namespace)
        {
            var values = context.Request.RouteValues;
            var tenant = values["tenant"] as string ?? "";
            var ns = values["namespace"] as string ?? "";
            if (!_policy.Allows(caller, tenant, ns, rule.Permission))
            {
                return Forbidden(context, Access.Denied(tenant, ns, rule.Permission));
            }
        }

        return null;
    }

    private static string? Token(HttpContext context, bool acceptsQueryToken, out bool malformed)
    {
        malformed = false;
        var headers = context.Request.Headers.Authorization;
        if (headers.Count > 0)
        {
            var value = headers.Count == 1 ? headers[0] : null;
            if (value is not null && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && value.Length > 7)
            {
                return value[7..].Trim();
            }

            malformed = true;
            return null;
        }

        // Browsers' EventSource and WebSocket cannot send headers; elsewhere the parameter is ignored.
        if (acceptsQueryToken && context.Request.Query.TryGetValue(Streaming.StreamRequest.AccessTokenParameter, out var query) && query.Count == 1 && !string.IsNullOrEmpty(query[0]))
        {
            return query[0];
        }

        return null;
    }

    private Task Unauthorized(HttpContext context, string? failure)
    {
        // RFC 6750 section 3: no error code when the request carried no token at all.
        context.Response.Headers.WWWAuthenticate = failure is null
            ? $"Bearer realm=\"{Realm}\""
            : $"Bearer realm=\"{Realm}\", error=\"invalid_token\", error_description=\"{failure}\"";
        if (failure is not null)
        {
            Log.AuthenticationFailed(logger, context.Request.Method, ProblemWriter.Printable(context.Request.Path.Value, 200), failure);
        }

        return ErrorShape.For(context).WriteAsync(context, ProblemKind.Unauthorized,
            failure is null ? "this route needs a bearer token: Authorization: Bearer <token>" : "the bearer token was refused: " + failure);
    }

    private Task Forbidden(HttpContext context, string detail)
    {
        Log.AccessDenied(logger, context.Request.Method, ProblemWriter.Printable(context.Request.Path.Value, 200), detail);
        return ErrorShape.For(context).WriteAsync(context, ProblemKind.Forbidden, detail);
    }

    // Routing's own endpoints for a known path with the wrong method (405) or content type (415): they only answer that.
    private static bool IsRoutingRejection(Endpoint endpoint)
        => endpoint.DisplayName is { } name && (name.StartsWith("405 ", StringComparison.Ordinal) || name.StartsWith("415 ", StringComparison.Ordinal));

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.AuthenticationFailed, Level = LogLevel.Information, Message = "Refused a token on {Method} {Path}: {Reason}")]
        public static partial void AuthenticationFailed(ILogger logger, string method, string path, string reason);

        [LoggerMessage(EventId = LogEvents.AccessDenied, Level = LogLevel.Information, Message = "Denied {Method} {Path}: {Reason}")]
        public static partial void AccessDenied(ILogger logger, string method, string path, string reason);

        [LoggerMessage(EventId = LogEvents.RouteWithoutAccessRule, Level = LogLevel.Warning, Message = "Route {Route} has no access rule: only superusers may call it. Add it to AccessRules.")]
        public static partial void RouteWithoutAccessRule(ILogger logger, string route);
    }
}
