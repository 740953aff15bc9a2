using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

public sealed class ConcurrencyTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task TailReaders_FollowingConcurrentAppendersAcrossRolls_SeeEveryRecordInOrder()
    {
        const int Appenders = 8;
        const int PerAppender = 150;
        await using var log = await EmbeddedLog.OpenAsync(
            new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 4096, IndexIntervalBytes = 256 }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        async Task<List<StoredRecord>> FollowAsync()
        {
            var seen = new List<StoredRecord>();
            long offset = 0;
            while (seen.Count < Appenders * PerAppender)
            {
                await log.WaitForDataAsync(Topic, 0, offset, timeout.Token);
                var r = await log.ReadAsync(Topic, 0, offset, 17, 2048, timeout.Token);
                Assert.NotEmpty(r.Records);
                seen.AddRange(r.Records);
                offset = r.NextOffset;
            }

            return seen;
        }

        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(FollowAsync)).ToList();
        var appenders = Enumerable.Range(0, Appenders).Select(a => Task.Run(async () =>
        {
            for (var i = 0; i < PerAppender; i++)
            {
                await log.AppendAsync(Topic, 0, [Value($"{a}:{i}:" + new string('z', i % 50))], timeout.Token);
            }
        })).ToList();
        await Task.WhenAll(appenders);
        var results = await Task.WhenAll(readers);

        var expected = await ReadAllAsync(log, Topic, 0);
        Assert.Equal(Appenders * PerAppender, expected.Count);
        Assert.True(Directory.GetFiles(Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "0"), "*.log").Length > 3);
        foreach (var seen in results)
        {
            Assert.Equal(expected.Select(r => (r.Offset, r.Text())), seen.Select(r => (r.Offset, r.Text())));
        }

        // Per appender, its own records are in the order it appended them.
        foreach (var group in expected.GroupBy(r => r.Text().Split(':')[0]))
        {
            var sequence = group.Select(r => int.Parse(r.Text().Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(0, PerAppender), sequence);
        }
    }

    [Fact]
    public async Task Reads_DuringRetentionAndCompaction_NeverFailExceptOutOfRange()
    {
        await using var log = await EmbeddedLog.OpenAsync(
            new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 4096, IndexIntervalBytes = 256 }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings { Compacted = true, RetentionBytes = 20_000 });
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 1500; i++)
            {
                await log.AppendAsync(Topic, 0, [Value($"v{i}-" + new string('q', 40), key: $"k{i % 40}")]);
            }
        });
        var maintenance = Task.Run(async () =>
        {
            while (!writer.IsCompleted)
            {
                await log.RunMaintenanceAsync();
                await Task.Delay(5);
            }
        });
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            var random = new Random(3);
            while (!writer.IsCompleted)
            {
                var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
                if (info.EndOffset == 0)
                {
                    continue;
                }

                try
                {
                    var r = await log.ReadAsync(Topic, 0, info.StartOffset + random.NextInt64(info.EndOffset - info.StartOffset), 20, 4096);
                    Assert.All(r.Records, x => Assert.StartsWith($"v{x.Offset}-", x.Text(), StringComparison.Ordinal));
                    reads++;
                }
                catch (OffsetOutOfRangeException)
                {
                    // retention moved the start meanwhile
                }
            }
        });
        await Task.WhenAll(writer, maintenance, reader);
        Assert.True(reads > 0);
        Assert.DoesNotContain(_logs.Entries, e => e.EventId == StorageEventIds.CorruptBatch);
    }

    [Fact]
    public async Task TailWaits_CancelledWhileAppendsWakeThem_EveryWaitEndsAndTheWaitersAreReused()
    {
        // Waits end by a wake or by their token, often both at once: each ends once, none hangs, and a waiter reused
        // after a cancelled wait is woken by the next append like any other.
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var woken = 0;
        var cancelled = 0;

        async Task<long> EndAsync() => (await log.ReadAsync(Topic, 0, 0, 1, 1024)).EndOffset;

        async Task WaiterAsync(int seed)
        {
            var random = new Random(seed);
            for (var round = 0; round < 200; round++)
            {
                var end = await EndAsync();
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                if (random.Next(3) == 0)
                {
                    cts.CancelAfter(TimeSpan.FromTicks(random.Next(20_000)));
                }

                try
                {
                    await log.WaitForDataAsync(Topic, 0, end, cts.Token);
                    Interlocked.Increment(ref woken);
                    Assert.True(await EndAsync() > end);
                }
                catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
                {
                    // Its own token, not one of an earlier wait that used the same pooled waiter.
                    Assert.True(cts.IsCancellationRequested, "a wait was cancelled by a token that is not its own");
                    Interlocked.Increment(ref cancelled);
                }
            }
        }

        var waiters = Enumerable.Range(0, 16).Select(i => Task.Run(() => WaiterAsync(i))).ToList();
        var appender = Task.Run(async () =>
        {
            while (!waiters.TrueForAll(w => w.IsCompleted))
            {
                await log.AppendAsync(Topic, 0, [Value("x")], timeout.Token);
            }
        });
        await Task.WhenAll(waiters).WaitAsync(timeout.Token);
        await appender.WaitAsync(timeout.Token);

        Assert.Equal(16 * 200, woken + cancelled);
        Assert.True(woken > 0, "no wait was woken by an append");
        Assert.True(cancelled > 0, "no wait was cancelled: the race was not run");

        // After all that, one more wait is woken by one more append.
        var last = await EndAsync();
        var wait = log.WaitForDataAsync(Topic, 0, last).AsTask();
        await log.AppendAsync(Topic, 0, [Value("y")]);
        await wait.WaitAsync(timeout.Token);
    }

    [Fact]
    public async Task DeleteTopic_DuringAppendsAndTailWaits_FailsThemWithTopicNotFoundAndNeverHangs()
    {
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        await log.AppendAsync(Topic, 0, [Value("first")]);
        var waiter = log.WaitForDataAsync(Topic, 1, 0).AsTask();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var appenders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await log.AppendAsync(Topic, 0, [Value("x")]);
                }
                catch (TopicNotFoundException)
                {
                    return;
                }
            }

            Assert.Fail("appends never noticed the delete");
        })).ToList();
        await Task.Delay(100);
        Assert.True(await log.DeleteTopicAsync(Topic));
        await Task.WhenAll(appenders).WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAsync<TopicNotFoundException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAsync<TopicNotFoundException>(() => log.ReadAsync(Topic, 0, 0, 1, 1).AsTask());
    }

    [Fact]
    public async Task Dispose_WithWaitingTailReader_EndsTheWait()
    {
        var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var waiter = log.WaitForDataAsync(Topic, 0, 0).AsTask();
        await log.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.AppendAsync(Topic, 0, [Value("x")]).AsTask());
    }
}
