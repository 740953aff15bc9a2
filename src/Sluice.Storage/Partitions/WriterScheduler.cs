namespace Sluice.Storage.Partitions;

/// <summary>
/// Runs the partitions' group-commit writer loops on a few dedicated threads instead of the thread pool.
/// </summary>
/// <remarks>
/// A writer spends most of its round blocked in fsync. On the thread pool, the continuation that starts the
/// next round queues behind every HTTP request the pool is serving, so under load a round took several times
/// the fsync itself and every producer waited for it (measured with 64 connections on 2 cores: ~0.9 ms
/// rounds for a 0.15 ms fsync). Dedicated threads are scheduled by the OS as soon as work arrives.
/// Continuations of the writer loop stay here because the loop awaits without <c>ConfigureAwait(false)</c>.
/// An idle thread blocks at once (<see cref="Monitor.Wait(object)"/>): a blocking collection's semaphore spins first,
/// and four threads spinning after every short round showed as a fifth of the server's CPU under load.
/// </remarks>
internal sealed class WriterScheduler : TaskScheduler, IDisposable
{
    [ThreadStatic]
    private static WriterScheduler? _current;

    private readonly object _gate = new(); // a monitor: Wait and Pulse
    private readonly Queue<Task> _queue = new();
    private readonly Thread[] _threads;
    private bool _disposed;

    public WriterScheduler(int threadCount)
    {
        _threads = new Thread[threadCount];
        for (var i = 0; i < threadCount; i++)
        {
            _threads[i] = new Thread(Run)
            {
                IsBackground = true,
                Name = $"sluice-writer-{i}",
            };
            _threads[i].Start();
        }
    }

    /// <summary>
    /// Two threads a core, at least 4 and at most 16: enough that fsyncs of different partitions overlap,
    /// few enough that thousands of partitions do not mean thousands of threads.
    /// </summary>
    public static int DefaultThreadCount => Math.Clamp(Environment.ProcessorCount * 2, 4, 16);

    public override int MaximumConcurrencyLevel => _threads.Length;

    /// <summary>Starts an async loop whose awaits continue on this scheduler's threads.</summary>
    public Task Start(Func<Task> loop)
        => Task.Factory.StartNew(loop, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }

    protected override void QueueTask(Task task)
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _queue.Enqueue(task);
                Monitor.Pulse(_gate);
                return;
            }
        }

        // Disposed: a loop still finishing its last round completes on the thread pool.
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Scheduler.TryExecuteTask(state.Task), (Scheduler: this, Task: task), preferLocal: false);
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
        => _current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_gate)
        {
            return _queue.ToArray();
        }
    }

    private void Run()
    {
        _current = this;
        while (true)
        {
            Task task;
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    if (_disposed)
                    {
                        return;
                    }

                    Monitor.Wait(_gate);
                }

                task = _queue.Dequeue();
            }

            TryExecuteTask(task);
        }
    }
}
