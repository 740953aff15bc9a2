using Sluice.Core.Subscriptions;
using Sluice.Server.Problems;

namespace Sluice.Server.Subscriptions;

/// <summary>The wire names of subscription types, shared by the admin routes, pull and the streams.</summary>
internal static class SubscriptionTypeNames
{
    public static SubscriptionType Parse(string type) => type switch
    {
        "exclusive" => SubscriptionType.Exclusive,
        "failover" => SubscriptionType.Failover,
        "shared" => SubscriptionType.Shared,
        "key_shared" => SubscriptionType.KeyShared,
        _ => throw new ProblemException(ProblemKind.InvalidParameter, $"type must be exclusive, failover, shared or key_shared; got '{ProblemWriter.Printable(type, 50)}'"),
    };

    public static string Name(SubscriptionType type) => type switch
    {
        SubscriptionType.Exclusive => "exclusive",
        SubscriptionType.Failover => "failover",
        SubscriptionType.KeyShared => "key_shared",
        _ => "shared",
    };
}
