using Sluice.Core.Subscriptions;

namespace Sluice.Server.Streaming;

/// <summary>
/// A reader stream's wait for its partition's tail (<see cref="Sluice.Core.Log.IMessageLog.WaitForDataAsync"/>), which
/// the stream registry's keep-alive clock and the stream's end interrupt
/// (<see cref="StreamRegistry.StreamLease.KeepAlive"/>): a token source per interruption, not one with a
/// timer per wait (a fan-out to a thousand readers waits a thousand times per append).
/// </summary>
internal sealed class TailWait : IInterruptible
{
    private CancellationTokenSource _interrupt = new();

    /// <summary>What the next wait waits with.</summary>
    public CancellationToken Token => Volatile.Read(ref _interrupt).Token;

    public void Interrupt() => Volatile.Read(ref _interrupt).Cancel();

    /// <summary>
    /// After an interrupted wait: the next one waits on a fresh source (the old one has no timer and no link, so nothing
    /// to dispose). A fence: an end that interrupted the old source is seen by the caller's next look at the lease.
    /// </summary>
    public void Reset() => Interlocked.Exchange(ref _interrupt, new CancellationTokenSource());
}
