namespace Sluice.Core.Subscriptions;

/// <summary>
/// A wait that something other than its own timer can end early, as if it were over: a consumer's receive, a reader's
/// wait for its partition's tail. A server with one keep-alive clock for many streams interrupts their waits rather
/// than giving each wait a timer.
/// </summary>
public interface IInterruptible
{
    /// <summary>Ends the current wait, or the next one at its first look if none is pending.</summary>
    void Interrupt();
}
