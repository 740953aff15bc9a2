using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>Composition of authentication, authorisation, rate limits and quotas.</summary>
internal static class SecurityServices
{
    public static void Add(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<AccessPolicy>();
        services.AddSingleton<TenantRateLimiter>();
        services.AddSingleton<TenantQuotas>();
        services.AddHostedService<UnauthenticatedWarning>();
        BrowserGuard.Add(services, options);
        if (options.AuthMode == AuthMode.Jwt)
        {
            services.AddSingleton(sp => JwtKeySet.Load(
                options,
                options.JwksUrl is null ? null : new JwksClient(options, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger<JwksClient>())));
            services.AddSingleton<JwtValidator>();
            services.AddHostedService<JwksRefresher>();
        }
    }

    /// <summary>After routing (the rule is the endpoint's), before the handlers.</summary>
    public static void Use(WebApplication app)
    {
        app.UseMiddleware<AccessMiddleware>();
        var limiter = app.Services.GetRequiredService<TenantRateLimiter>();
        if (limiter.Enabled)
        {
            app.Use((context, next) => limiter.InvokeAsync(context, next));
        }
    }

    // The keys decide who may do anything: fetched over TLS, or from this machine.
    private static string? JwksUrlProblem(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || !string.IsNullOrEmpty(uri.UserInfo))
        {
            return $"auth:jwksUrl must be an absolute https URL without credentials; got '{Problems.ProblemWriter.Printable(url, 100)}'";
        }

        return uri.Scheme == "http" && !uri.IsLoopback
            ? $"auth:jwksUrl must use https (http only for a loopback address); got '{uri.GetLeftPart(UriPartial.Authority)}'"
            : null;
    }

    /// <summary>Cross-field checks for ServerOptionsValidator: keys load, TLS files match, jwt mode grants something.</summary>
    public static IEnumerable<string> Check(ServerOptions o)
    {
        if (o.AuthMode == AuthMode.Jwt)
        {
            string? problem = null;
            try
            {
                _ = JwtKeySet.Load(o);
            }
            catch (FormatException ex)
            {
                problem = ex.Message;
            }
            catch (IOException ex)
            {
                problem = "cannot read a key file: " + ex.Message;
            }

            if (problem is not null)
            {
                yield return problem;
            }

            if (o.JwksUrl is { } url && JwksUrlProblem(url) is { } bad)
            {
                yield return bad;
            }

            if (o.SuperuserRoles.Length == 0 && !o.TenantFromSubject && o.AuthRoles.Count == 0)
            {
                yield return "auth:mode jwt grants nothing to anyone: set --superuser-role, --tenant-from-subject or auth:roles in the options file";
            }
        }
        else if (o.JwtSecretFile is not null || o.JwtPublicKeyFile is not null || o.JwksFile is not null || o.JwksUrl is not null)
        {
            yield return "JWT keys are configured but auth:mode is none: add --auth jwt (or remove the keys)";
        }

        foreach (var browser in BrowserAccess.Check(o))
        {
            yield return browser;
        }

        if (TlsListener.Validate(o) is { } tls)
        {
            yield return tls;
        }
    }
}
