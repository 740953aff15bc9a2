namespace Sluice.Core.Delay;

/// <summary>The answer to a cancel: decided by the owner of the message's partition, in the order of its log.</summary>
public enum CancelOutcome
{
    /// <summary>The message was pending and will never be delivered.</summary>
    Cancelled,

    /// <summary>The message was already delivered (or being delivered), already cancelled, or is unknown.</summary>
    NotCancellable,
}
