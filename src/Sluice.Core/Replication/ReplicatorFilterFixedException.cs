using Sluice.Core.Filters;

namespace Sluice.Core.Replication;

/// <summary>
/// A change of a replicator's filter (HTTP 409 <c>filter-immutable</c>): it is its subscriptions' filter, fixed at
/// creation so their positions keep one meaning. Nothing was changed.
/// </summary>
public sealed class ReplicatorFilterFixedException(string name, MessageFilter? current, MessageFilter? requested)
    : Exception($"the filter of replicator '{name}' is fixed at creation; it is {Describe(current)}, the request asks for {Describe(requested)}. Create a new replicator for another filter")
{
    private static string Describe(MessageFilter? filter) => filter is null ? "none" : $"'{filter.Text}'";
}
