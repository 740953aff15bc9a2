using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// kateway's authentication, mapped onto Sluice's permission model:
/// <code>
///   Appid + Pubkey (publish, admin) or Subkey (consume) ──► the app's secret in kateway:apps:{appid} ──► 401
///   app ──► a caller with the role {appid}: it owns tenant {appid} (its topics); another app's topic needs a
///           Sluice grant (auth:roles:{appid}: "{otherApp}=consume"), as kateway needed a subscription grant ──► 401
///   no kateway:apps ──► kateway's open mode: any app is accepted (auth:mode none only; with jwt, nothing is)
/// </code>
/// Errors are kateway's: 401 with "auth with empty identity or key", "authentication fails", "authorization fails".
/// </summary>
internal sealed class KatewayAccess(IOptions<ServerOptions> options, AccessPolicy policy)
{
    private readonly Dictionary<string, byte[]> _secrets = options.Value.KatewayApps.ToDictionary(a => a.Key, a => Encoding.UTF8.GetBytes(a.Value), StringComparer.Ordinal);
    private readonly bool _jwt = options.Value.AuthMode == AuthMode.Jwt;

    /// <summary>kateway's open mode: no app secrets configured.</summary>
    public bool Open => _secrets.Count == 0;

    /// <summary>The calling app (header <c>Appid</c>) proven by <paramref name="keyHeader"/> (<c>Pubkey</c> or <c>Subkey</c>).</summary>
    public Caller Authenticate(HttpContext context, string keyHeader)
    {
        var appid = context.Request.Headers["Appid"].ToString();
        var key = context.Request.Headers[keyHeader].ToString();
        if (appid.Length == 0 || (!Open && key.Length == 0))
        {
            CompatException.Throw(StatusCodes.Status401Unauthorized, "auth with empty identity or key");
        }

        if (!TopicName.IsValidPart(appid, out _) || appid.StartsWith(TopicName.InternalTenantPrefix, StringComparison.Ordinal))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "invalid appid");
        }

        if (Open ? _jwt : !(_secrets.TryGetValue(appid, out var secret) && CryptographicOperations.FixedTimeEquals(secret, Encoding.UTF8.GetBytes(key))))
        {
            // With JWT authentication on and no apps configured, kateway's open mode would bypass it: nothing is accepted.
            CompatException.Throw(StatusCodes.Status401Unauthorized, "authentication fails");
        }

        var roles = new[] { appid };
        return new Caller(roles, !Open && policy.IsSuperuser(roles));
    }

    /// <summary>The app owns its tenant; elsewhere it needs a grant (open mode: everything is allowed).</summary>
    public void Require(Caller caller, TopicName topic, Permission permission)
    {
        if (Open || caller.IsSuperuser || caller.Roles[0] == topic.Tenant || policy.Allows(caller, topic.Tenant, topic.Namespace, permission))
        {
            return;
        }

        CompatException.Throw(StatusCodes.Status401Unauthorized, "authorization fails");
    }

    public static string AppOf(Caller caller) => caller.Roles[0];
}
