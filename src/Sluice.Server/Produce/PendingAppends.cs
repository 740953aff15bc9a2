namespace Sluice.Server.Produce;

/// <summary>Counts <c>?async=true</c> appends still running, so shutdown can wait for them before closing the log.</summary>
internal sealed class PendingAppends
{
    private int _count;
    private TaskCompletionSource _drained = NewDrained();

    public void Enter()
    {
        if (Interlocked.Increment(ref _count) == 1)
        {
            Volatile.Write(ref _drained, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _count) == 0)
        {
            Volatile.Read(ref _drained).TrySetResult();
        }
    }

    public Task WaitAsync(CancellationToken cancellationToken)
        => Volatile.Read(ref _count) == 0 ? Task.CompletedTask : Volatile.Read(ref _drained).Task.WaitAsync(cancellationToken);

    private static TaskCompletionSource NewDrained()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }
}
