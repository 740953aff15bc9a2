using Sluice.Core.Filters;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// A change of an existing subscription's filter (HTTP 409 <c>filter-immutable</c>). The filter is fixed at creation, as
/// in Pub/Sub, so that the cursor keeps one meaning: everything below it was delivered and acked, or filtered out by
/// this filter. Nothing was changed.
/// </summary>
public sealed class SubscriptionFilterFixedException(TopicName topic, string name, MessageFilter? current, MessageFilter? requested)
    : Exception($"the filter of subscription '{name}' on topic '{topic}' is fixed at creation; it is {Describe(current)}, the request asks for {Describe(requested)}. Create a new subscription for another filter")
{
    private static string Describe(MessageFilter? filter) => filter is null ? "none" : $"'{filter.Text}'";
}
