using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;

namespace Sluice.Server.Security;

/// <summary>
/// Decides what a <see cref="Caller"/> may do in a tenant's namespace. Sources, any of which allows:
/// a superuser role; a grant of one of its roles (<c>auth:roles:ROLE</c> =
/// <c>tenant[/namespace]=produce,consume,admin</c>, <c>*</c> matching any tenant or namespace); and, with
/// <c>auth:tenantFromSubject</c>, a role equal to the tenant's name (admin of that tenant). Admin includes
/// produce and consume.
/// </summary>
internal sealed class AccessPolicy
{
    private readonly Dictionary<string, List<Grant>> _grants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _superusers;
    private readonly bool _tenantFromSubject;

    public AccessPolicy(IOptions<ServerOptions> options)
        : this(options.Value)
    {
    }

    public AccessPolicy(ServerOptions options)
    {
        _superusers = new HashSet<string>(
            options.SuperuserRoles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
        _tenantFromSubject = options.TenantFromSubject;
        foreach (var (role, grants) in options.AuthRoles)
        {
            _grants[role] = Parse(grants, out _) ?? [];
        }
    }

    private sealed record Grant(string Tenant, string Namespace, Permission Permissions);

    public bool IsSuperuser(IEnumerable<string> roles) => roles.Any(_superusers.Contains);

    /// <summary>True when the caller holds any of <paramref name="wanted"/> (or admin) in the namespace.</summary>
    public bool Allows(Caller caller, string tenant, string @namespace, Permission wanted)
    {
        if (caller.IsSuperuser)
        {
            return true;
        }

        var accepted = wanted | Permission.Admin;
        foreach (var role in caller.Roles)
        {
            if (_tenantFromSubject && string.Equals(role, tenant, StringComparison.Ordinal))
            {
                return true;
            }

            if (_grants.TryGetValue(role, out var grants))
            {
                foreach (var g in grants)
                {
                    if ((g.Permissions & accepted) != 0 && Matches(g.Tenant, tenant) && Matches(g.Namespace, @namespace))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>Null when <paramref name="grants"/> parses; else what is wrong with it.</summary>
    public static string? ValidateGrants(string grants)
    {
        _ = Parse(grants, out var problem);
        return problem;
    }

    private static bool Matches(string pattern, string value) => pattern == "*" || string.Equals(pattern, value, StringComparison.Ordinal);

    private static List<Grant>? Parse(string text, out string? problem)
    {
        var result = new List<Grant>();
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                problem = $"'{part}' is not tenant[/namespace]=permissions, such as acme/orders=produce,consume";
                return null;
            }

            var scope = part[..eq].Trim().Split('/');
            if (scope.Length > 2 || scope.Any(s => s.Length == 0))
            {
                problem = $"'{part[..eq]}' is not tenant or tenant/namespace ('*' matches any)";
                return null;
            }

            var permissions = Permission.None;
            foreach (var p in part[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                switch (p.ToLowerInvariant())
                {
                    case "produce": permissions |= Permission.Produce; break;
                    case "consume": permissions |= Permission.Consume; break;
                    case "admin": permissions |= Permission.Admin; break;
                    default:
                        problem = $"unknown permission '{p}'; known: produce, consume, admin";
                        return null;
                }
            }

            if (permissions == Permission.None)
            {
                problem = $"'{part}' names no permission; known: produce, consume, admin";
                return null;
            }

            result.Add(new Grant(scope[0], scope.Length == 2 ? scope[1] : "*", permissions));
        }

        problem = null;
        return result;
    }
}
