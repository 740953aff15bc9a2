using System.Collections.Concurrent;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Kafka;

/// <summary>
/// Waiters for data past an offset, per partition. Appends through this instance wake them at once
/// (<see cref="Appended"/>); a dedicated thread polls the end offsets of waited partitions every interval, and only
/// while someone waits, for data produced elsewhere.
/// </summary>
internal sealed class KafkaWaiters : IDisposable
{
    private readonly TimeSpan _interval;
    private readonly Func<string, int, long> _queryEnd;
    private readonly Action<Exception> _onPollFailed;
    private readonly ConcurrentDictionary<(string Topic, int Partition), PartitionWaiters> _partitions = new();
    private readonly SemaphoreSlim _someoneWaits = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _poller;

    public KafkaWaiters(TimeSpan interval, Func<string, int, long> queryEnd, Action<Exception> onPollFailed)
    {
        _interval = interval;
        _queryEnd = queryEnd;
        _onPollFailed = onPollFailed;
        _poller = new Thread(Poll) { IsBackground = true, Name = "sluice-kafka-waiters" };
        _poller.Start();
    }

    public ValueTask WaitAsync(TopicName topic, string kafkaTopic, int partition, long offset, CancellationToken cancellationToken)
    {
        var waiters = _partitions.GetOrAdd((kafkaTopic, partition), k => new PartitionWaiters(topic));
        if (waiters.KnownEnd > offset)
        {
            return ValueTask.CompletedTask;
        }

        var waiter = new Waiter(offset, waiters);
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the waiter is listed, so whoever completes it finds the registration and lets it go: a
            // token may serve many waits (a reader stream's lives until its next keep-alive), and each registration
            // left on it would stay until then.
            waiter.Registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var waiter = (Waiter)state!;
                // Completed under the lock (its continuations run elsewhere), so a wait being listed sees it cancelled.
                lock (waiter.Owner)
                {
                    waiter.Owner.List.Remove(waiter);
                    waiter.Completion.TrySetCanceled(token);
                }
            }, waiter);
        }

        lock (waiters)
        {
            // Cancelled before it was listed (the callback found nothing to remove): not listed at all, or the poller would
            // keep querying for a wait nobody has.
            if (waiter.Completion.Task.IsCompleted)
            {
                return new ValueTask(waiter.Completion.Task);
            }

            waiters.List.Add(waiter);
        }

        // Checked after listing, so an end learned meanwhile is not missed.
        if (waiters.KnownEnd > offset)
        {
            Complete(waiters, waiters.KnownEnd);
        }

        _someoneWaits.Release();
        return new ValueTask(waiter.Completion.Task);
    }

    public void Appended(string kafkaTopic, int partition, long endOffset)
    {
        if (_partitions.TryGetValue((kafkaTopic, partition), out var waiters))
        {
            Complete(waiters, endOffset);
        }
    }

    public void FailTopic(string kafkaTopic, Exception error)
    {
        foreach (var ((topic, _), waiters) in _partitions)
        {
            if (topic == kafkaTopic)
            {
                Fail(waiters, error);
            }
        }
    }

    private static void Complete(PartitionWaiters waiters, long endOffset)
    {
        List<Waiter>? done = null;
        lock (waiters)
        {
            if (endOffset > waiters.KnownEnd)
            {
                waiters.KnownEnd = endOffset;
            }

            for (var i = waiters.List.Count - 1; i >= 0; i--)
            {
                if (waiters.List[i].Offset < endOffset)
                {
                    (done ??= []).Add(waiters.List[i]);
                    waiters.List.RemoveAt(i);
                }
            }
        }

        if (done is not null)
        {
            foreach (var w in done)
            {
                w.Registration.Dispose();
                w.Completion.TrySetResult();
            }
        }
    }

    private static void Fail(PartitionWaiters waiters, Exception error)
    {
        List<Waiter> failed;
        lock (waiters)
        {
            failed = [.. waiters.List];
            waiters.List.Clear();
        }

        foreach (var w in failed)
        {
            w.Registration.Dispose();
            w.Completion.TrySetException(error);
        }
    }

    private void Poll()
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var any = false;
                foreach (var ((topic, partition), waiters) in _partitions)
                {
                    int count;
                    lock (waiters)
                    {
                        count = waiters.List.Count;
                    }

                    if (count == 0)
                    {
                        continue;
                    }

                    any = true;
                    try
                    {
                        Complete(waiters, _queryEnd(topic, partition));
                    }
                    catch (Confluent.Kafka.KafkaException ex) when (ex.Error.Code is Confluent.Kafka.ErrorCode.UnknownTopicOrPart or Confluent.Kafka.ErrorCode.Local_UnknownTopic)
                    {
                        Fail(waiters, new TopicNotFoundException(waiters.Topic));
                    }
                    catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or TopicNotFoundException)
                    {
                        _onPollFailed(ex);
                    }
                }

                if (any)
                {
                    token.WaitHandle.WaitOne(_interval);
                    while (_someoneWaits.CurrentCount > 0)
                    {
                        _someoneWaits.Wait(0, CancellationToken.None);
                    }
                }
                else
                {
                    _someoneWaits.Wait(token);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _poller.Join();
        foreach (var waiters in _partitions.Values)
        {
            Fail(waiters, new ObjectDisposedException(nameof(KafkaLog)));
        }

        _stop.Dispose();
        _someoneWaits.Dispose();
    }

    private sealed class PartitionWaiters(TopicName topic)
    {
        public TopicName Topic { get; } = topic;

        public List<Waiter> List { get; } = [];

        public long KnownEnd { get; set; } = -1;
    }

    private sealed class Waiter(long offset, PartitionWaiters owner)
    {
        public long Offset { get; } = offset;

        /// <summary>The list it is on while it waits.</summary>
        public PartitionWaiters Owner { get; } = owner;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }
    }
}
