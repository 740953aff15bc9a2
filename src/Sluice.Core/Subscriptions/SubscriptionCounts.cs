using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// One subscription's message counts on this gateway since it loaded the subscription (not durable): deliveries
/// (redeliveries included), of which redeliveries, acks, nacks, leases whose ack deadline passed, messages dead-lettered
/// and messages its filter did not match; receives woken by a change, and receives waiting now.
/// </summary>
public sealed record SubscriptionCounts(
    TopicName Topic,
    string Name,
    long Delivered,
    long Redelivered,
    long Acked,
    long Nacked,
    long LeasesExpired,
    long DeadLettered,
    long FilteredOut,
    long Wakeups,
    long WaitingReceivers);
