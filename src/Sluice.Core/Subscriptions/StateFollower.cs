using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Reads a one-partition state topic from a given offset on, forever, handing each record to <c>apply</c> in order
/// (one call at a time, each awaited). <see cref="CatchUpAsync"/> waits until everything appended before the call was applied: how a
/// fleet member sees, before acting, what the others wrote.
/// </summary>
internal sealed partial class StateFollower(IMessageLog log, TopicName topic, long from, Func<StoredRecord, ValueTask> apply, TimeProvider time, ILogger logger)
{
    // 1 s: a failing backend is not hammered, and a hiccup heals quickly.
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly List<(long Offset, TaskCompletionSource Done)> _waiters = [];
    private long _position = from;

    public TopicName Topic => topic;

    public void Start(CancellationToken cancellationToken) => _ = Task.Run(() => RunAsync(cancellationToken), CancellationToken.None);

    /// <summary>Completes once every record below the topic's current end offset has been applied.</summary>
    public async ValueTask CatchUpAsync(CancellationToken cancellationToken)
    {
        var info = await log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) ?? throw new TopicNotFoundException(topic);
        var end = info.Partitions[0].EndOffset;
        Task wait;
        lock (_gate)
        {
            if (_position >= end)
            {
                return;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((end, done));
            wait = done.Task;
        }

        await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var read = await log.ReadAsync(topic, 0, _position, 4096, 4 * 1024 * 1024, cancellationToken).ConfigureAwait(false);
                foreach (var record in read.Records)
                {
                    try
                    {
                        await apply(record).ConfigureAwait(false);
                    }
                    catch (Exception ex)
                    {
                        // One bad record must not stop the others: log it and go on.
                        Log.FollowFailed(logger, topic, ex);
                    }
                }

                Advance(read.NextOffset);
                if (read.NextOffset >= read.EndOffset)
                {
                    await log.WaitForDataAsync(topic, 0, read.NextOffset, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (OffsetOutOfRangeException ex) when (_position < ex.StartOffset)
            {
                // Retention removed what was not read yet (the acks topic keeps an hour): go on from what is left.
                Advance(ex.StartOffset);
            }
            catch (CorruptRecordsException ex)
            {
                // Damaged records cannot be applied (the log reports them); what follows them can.
                Log.FollowFailed(logger, topic, ex);
                Advance(ex.ToOffset);
            }
            catch (Exception ex)
            {
                Log.FollowFailed(logger, topic, ex);
                try
                {
                    await Task.Delay(RetryDelay, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Advance(long position)
    {
        List<TaskCompletionSource>? done = null;
        lock (_gate)
        {
            if (position <= _position)
            {
                return;
            }

            _position = position;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Offset <= position)
                {
                    (done ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (done is not null)
        {
            foreach (var d in done)
            {
                d.TrySetResult();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.FollowFailed, LogLevel.Warning, "Following state topic '{Topic}' failed; retrying")]
        public static partial void FollowFailed(ILogger logger, TopicName topic, Exception exception);
    }
}
