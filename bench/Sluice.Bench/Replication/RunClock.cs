using System.Diagnostics;

namespace Sluice.Bench.Replication;

/// <summary>
/// Times one plain-client run two ways: from its start, and from its first acknowledged batch to its last (steady: the
/// setup a replicator pays once, registration, subscription, first connection, is left out on both sides alike).
/// </summary>
internal sealed class RunClock
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private long _done;
    private TimeSpan? _firstAt;
    private long _firstDone;

    /// <summary>A batch of <paramref name="records"/> was acknowledged by the target.</summary>
    public void Done(int records)
    {
        lock (_gate)
        {
            _done += records;
            if (_firstAt is null)
            {
                _firstAt = _clock.Elapsed;
                _firstDone = _done;
            }
        }
    }

    public RunRate Finish(long records)
    {
        var elapsed = _clock.Elapsed;
        lock (_gate)
        {
            return RunRate.Of(records, elapsed, _firstAt ?? elapsed, _firstDone);
        }
    }
}
