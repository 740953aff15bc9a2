using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Decides which partitions of a subscription this gateway instance delivers. On the embedded log there is one
/// instance and it owns every partition (<see cref="LocalPartitionCoordinator"/>). On Kafka the instances of a fleet
/// split them: each instance that has a consumer of the subscription joins one Kafka consumer group per subscription,
/// and the group's assignment says who delivers what.
/// </summary>
/// <remarks>
/// The engine joins on a subscription's first consumer and leaves when it has had none for the consumer session
/// timeout. Between <see cref="IPartitionAssignmentHandler.OnRevokedAsync"/> of one owner and
/// <see cref="IPartitionAssignmentHandler.OnAssignedAsync"/> of the next, the first flushes its cursors and the second
/// loads them, so the hand-over redelivers only what was unacked.
/// </remarks>
public interface IPartitionCoordinator
{
    /// <summary>
    /// True when other gateway instances may serve the same subscriptions (Kafka). The engine then follows the state
    /// topics for changes made elsewhere and forwards acks of partitions it does not own to their owner.
    /// </summary>
    bool IsShared { get; }

    /// <summary>
    /// Joins on behalf of this instance. Completes once the first assignment (possibly empty) was handed to
    /// <paramref name="handler"/>, or when <paramref name="cancellationToken"/> fires (then throws).
    /// </summary>
    /// <param name="topic">The subscription's topic.</param>
    /// <param name="subscription">The subscription's name.</param>
    /// <param name="generation">The subscription's generation: a deleted and recreated subscription is a new group.</param>
    /// <param name="handler">Told of assignments and revocations, one call at a time, in order.</param>
    /// <param name="cancellationToken">Ends the wait for the first assignment.</param>
    ValueTask<IPartitionMembership> JoinAsync(TopicName topic, string subscription, long generation, IPartitionAssignmentHandler handler, CancellationToken cancellationToken);
}

/// <summary>Receives a member's partition assignments. Calls never overlap and come in the order they happened.</summary>
public interface IPartitionAssignmentHandler
{
    /// <summary>These partitions are now this instance's: load their cursors, then deliver from them.</summary>
    Task OnAssignedAsync(IReadOnlyList<int> partitions);

    /// <summary>
    /// These partitions are no longer this instance's: stop delivering them, drop their leases and make their cursors
    /// durable before completing (the next owner starts from what is durable then).
    /// </summary>
    Task OnRevokedAsync(IReadOnlyList<int> partitions);
}

/// <summary>This instance's membership of one subscription's group; disposing it leaves (revoking what it owned).</summary>
public interface IPartitionMembership : IAsyncDisposable
{
    /// <summary>
    /// Publishes the contiguous acked prefix of a partition where the backend's own tools see it (Kafka's committed
    /// offset of the group). Best effort and asynchronous: the engine's cursor topic stays the source of truth.
    /// </summary>
    void Commit(int partition, long offset);
}

/// <summary>The single-instance coordinator: this instance owns every partition of every subscription.</summary>
public sealed class LocalPartitionCoordinator : IPartitionCoordinator
{
    public bool IsShared => false;

    /// <summary>Not used by the engine when <see cref="IsShared"/> is false; assigns nothing and leaves at once.</summary>
    public ValueTask<IPartitionMembership> JoinAsync(TopicName topic, string subscription, long generation, IPartitionAssignmentHandler handler, CancellationToken cancellationToken)
        => ValueTask.FromResult<IPartitionMembership>(NoMembership.Instance);

    private sealed class NoMembership : IPartitionMembership
    {
        public static readonly NoMembership Instance = new();

        public void Commit(int partition, long offset)
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
