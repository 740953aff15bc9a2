namespace Sluice.Core.Subscriptions;

/// <summary>Why the engine ended a consumer (see <see cref="ISubscriptionConsumer.Ended"/>).</summary>
public enum ConsumerEndReason
{
    /// <summary>The subscription was deleted (on a fleet: by any instance; there, also when its topic was deleted).</summary>
    SubscriptionDeleted,

    /// <summary>
    /// The subscription was deleted because its topic is being deleted (<see cref="ISubscriptionService.DeleteForTopicAsync"/>).
    /// A topic created again under the same name is a new topic: a loop that waits for it starts at its earliest offset.
    /// </summary>
    TopicDeleted,

    /// <summary>The engine is shutting down.</summary>
    EngineStopped,

    /// <summary>The consumer's session timed out after its last handle was disposed.</summary>
    SessionExpired,
}

/// <summary>
/// Thrown by <see cref="ISubscriptionConsumer.ReceiveAsync"/> on a consumer the engine has ended: it will never receive
/// again. A cancellation (of <see cref="ISubscriptionConsumer.Ended"/>), so code that treats any cancellation as "stop"
/// stays correct; code that must tell the cases apart reads <see cref="Reason"/>.
/// </summary>
public sealed class ConsumerEndedException(ConsumerEndReason reason, string consumerId, CancellationToken ended)
    : OperationCanceledException(Describe(reason, consumerId), ended)
{
    public ConsumerEndReason Reason { get; } = reason;

    private static string Describe(ConsumerEndReason reason, string consumerId) => reason switch
    {
        ConsumerEndReason.SubscriptionDeleted => $"consumer '{consumerId}' ended: its subscription was deleted",
        ConsumerEndReason.TopicDeleted => $"consumer '{consumerId}' ended: its topic was deleted",
        ConsumerEndReason.EngineStopped => $"consumer '{consumerId}' ended: the delivery engine is shutting down",
        _ => $"consumer '{consumerId}' ended: its session expired",
    };
}
