using Microsoft.Extensions.Options;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Pulsar Beam's authentication and authorisation, mapped onto Sluice's:
/// <code>
///   Authorization: [Bearer ]&lt;JWT&gt; ──► Sluice's JwtValidator (Pulsar-made tokens verify as they are) ──► 401 when refused
///   subject "a,b" ──► roles a and b (Beam splits subjects on commas)
///   firehose / sse / poll ──► Sluice's permission (produce, consume) in the topic's namespace ──► 403
///   /v2/topic documents   ──► Beam's tenant rule, or Sluice's admin permission ──► 403 (after the 404 of a missing document)
///   PulsarUrl header      ──► one of beam:clusters when any are configured ──► 401
/// </code>
/// With <c>auth:mode</c> none everyone may do everything, as Beam's <c>noauth</c>.
/// </summary>
internal sealed class BeamAccess(IOptions<ServerOptions> options, AccessPolicy policy, IServiceProvider services)
{
    private readonly ServerOptions _options = options.Value;
    private readonly JwtValidator? _validator = options.Value.AuthMode == AuthMode.Jwt ? services.GetRequiredService<JwtValidator>() : null;
    private readonly string[] _clusters = ParseClusters(options.Value.BeamClusters);

    /// <summary>The caller, or 401 <c>{"error": "Unauthorized"}</c> (Beam answers nothing more precise).</summary>
    public async ValueTask<Caller> AuthenticateAsync(HttpContext context)
    {
        if (_validator is null)
        {
            return Caller.Unauthenticated;
        }

        // Beam removes "Bearer" wherever it is and trims: a bare token works too.
        var header = context.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase) ? header[6..].Trim() : header.Trim();
        if (token.Length == 0 || await _validator.ValidateAsync(token) is not { Caller: { } validated })
        {
            throw new CompatException(StatusCodes.Status401Unauthorized, "Unauthorized");
        }

        var roles = validated.Roles.SelectMany(r => r.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
        var caller = new Caller(roles, policy.IsSuperuser(roles));
        caller.AttachTo(context);
        return caller;
    }

    /// <summary>403 unless the caller may <paramref name="permission"/> in the topic's namespace.</summary>
    public void Require(Caller caller, TopicName topic, Permission permission)
    {
        if (!policy.Allows(caller, topic.Tenant, topic.Namespace, permission))
        {
            CompatException.Throw(StatusCodes.Status403Forbidden, Access.Denied(topic.Tenant, topic.Namespace, permission));
        }
    }

    /// <summary>
    /// Beam's rule for topic documents: a subject (or one of its comma-separated parts) is a super role, equals the
    /// tenant, or equals it once its last <c>-suffix</c> is removed (<c>acme-admin</c> for <c>acme</c>); Sluice's admin
    /// permission in the namespace also allows.
    /// </summary>
    public bool MayAdminister(Caller caller, TopicName topic)
    {
        if (caller.IsSuperuser || policy.Allows(caller, topic.Tenant, topic.Namespace, Permission.Admin))
        {
            return true;
        }

        foreach (var role in caller.Roles)
        {
            var dash = role.LastIndexOf('-');
            if (role == topic.Tenant || (dash > 0 && role[..dash] == topic.Tenant))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The <c>PulsarUrl</c> header checked against <c>beam:clusters</c>: absent means the first configured cluster; one
    /// not configured is 401 with Beam's message. Without configured clusters any URL (or none) is accepted: every
    /// topic lives in this gateway's log whatever cluster a client names.
    /// </summary>
    public string? CheckCluster(HttpContext context, int status = StatusCodes.Status401Unauthorized)
    {
        var url = context.Request.Headers["PulsarUrl"].ToString();
        if (_clusters.Length == 0)
        {
            return url.Length == 0 ? null : url;
        }

        if (url.Length == 0)
        {
            return _clusters[0];
        }

        if (!_clusters.Any(c => c == url.Trim()))
        {
            CompatException.Throw(status, $"pulsar cluster {url} is not allowed");
        }

        return url;
    }

    public bool AuthEnabled => _options.AuthMode == AuthMode.Jwt;

    /// <summary><c>beam:clusters</c>: comma-separated Pulsar URLs; null when one is not a Pulsar URL.</summary>
    public static string[] ParseClusters(string value)
        => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
