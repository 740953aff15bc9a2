using Sluice.Core.Topics;
using Sluice.Server.Problems;

namespace Sluice.Server.Security;

/// <summary>Per-resource checks for handlers whose resource is not in the route (listings, webhooks).</summary>
internal static class Access
{
    public static bool Can(HttpContext context, TopicName topic, Permission permission)
        => Caller.Of(context) is { } caller && context.RequestServices.GetRequiredService<AccessPolicy>().Allows(caller, topic.Tenant, topic.Namespace, permission);

    /// <summary>403 unless the caller holds <paramref name="permission"/> in the topic's namespace.</summary>
    public static void Require(HttpContext context, TopicName topic, Permission permission)
    {
        if (!Can(context, topic, permission))
        {
            ProblemException.Throw(ProblemKind.Forbidden, Denied(topic.Tenant, topic.Namespace, permission));
        }
    }

    public static bool IsSuperuser(HttpContext context) => Caller.Of(context) is { IsSuperuser: true };

    public static string Denied(string tenant, string @namespace, Permission permission)
        => $"this token may not {Verb(permission)} in {ProblemWriter.Printable(tenant, 100)}/{ProblemWriter.Printable(@namespace, 100)}";

    private static string Verb(Permission permission) => permission switch
    {
        Permission.Produce => "produce",
        Permission.Consume => "consume",
        Permission.Admin => "administer",
        _ => "produce or consume",
    };
}
