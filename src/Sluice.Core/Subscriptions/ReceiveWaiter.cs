namespace Sluice.Core.Subscriptions;

/// <summary>
/// One receive call parked on a subscription until something changes. The subscription keeps its waiters in arrival
/// order and wakes them one at a time where any consumer can take any message (shared, exclusive), so a message wakes
/// one receiver instead of every connection on the subscription. All members are used under the subscription's lock.
/// </summary>
internal sealed class ReceiveWaiter
{
    private TaskCompletionSource? _signal;

    /// <summary>Its place in the subscription's queue while parked; null otherwise.</summary>
    public LinkedListNode<ReceiveWaiter>? Node { get; set; }

    /// <summary>Woken, and its receive has not looked at the subscription since: a wake it must pass on if it gives up.</summary>
    public bool Woken { get; set; }

    /// <summary>Completes at the next wake (the same task while it stays parked).</summary>
    public Task Changed => _signal!.Task;

    /// <summary>A fresh signal for a new stay in the queue.</summary>
    public void Arm() => _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Wake()
    {
        Woken = true;
        _signal?.TrySetResult();
    }
}
