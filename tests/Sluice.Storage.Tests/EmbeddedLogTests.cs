using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

public sealed class EmbeddedLogTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private Task<EmbeddedLog> OpenAsync(FlushPolicy policy = FlushPolicy.Always, TimeProvider? time = null)
        => EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, FlushPolicy = policy }, _logs, time);

    [Fact]
    public async Task CreateTopic_ThenListAndDescribe_ShowsEmptyPartitions()
    {
        await using var log = await OpenAsync();
        var internalTopic = new TopicName("__sluice", "state", "cursors");
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 3 });
        await log.CreateTopicAsync(internalTopic, new TopicSettings { Compacted = true });

        Assert.Equal([internalTopic, Topic], await log.ListTopicsAsync());
        var info = await log.DescribeTopicAsync(Topic);
        Assert.NotNull(info);
        Assert.Equal(3, info.Partitions.Count);
        Assert.All(info.Partitions, p => Assert.Equal((0L, 0L, 0L, (DateTimeOffset?)null), (p.StartOffset, p.EndOffset, p.Bytes, p.OldestTimestamp)));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "topic.json")));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "2", "00000000000000000000.log")));
    }

    [Fact]
    public async Task CreateTopic_Twice_ThrowsTopicAlreadyExists()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        await Assert.ThrowsAsync<TopicAlreadyExistsException>(() => log.CreateTopicAsync(Topic, new TopicSettings()).AsTask());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1025)]
    public async Task CreateTopic_BadPartitionCount_ThrowsInvalidSettingsAndCreatesNothing(int partitions)
    {
        await using var log = await OpenAsync();
        var ex = await Assert.ThrowsAsync<InvalidTopicSettingsException>(() => log.CreateTopicAsync(Topic, new TopicSettings { Partitions = partitions }).AsTask());
        Assert.Contains(partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
        Assert.Empty(await log.ListTopicsAsync());
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "topics", "acme")));
    }

    [Fact]
    public async Task UpdateTopic_GrowPartitions_AddsThemAndShrinkIsRejected()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        var info = await log.UpdateTopicAsync(Topic, new TopicSettings { Partitions = 4, RetentionBytes = 1000 });
        Assert.Equal(4, info.Partitions.Count);
        Assert.Equal(1000, info.Settings.RetentionBytes);
        await log.AppendAsync(Topic, 3, [Value("x")]);
        await Assert.ThrowsAsync<InvalidTopicSettingsException>(() => log.UpdateTopicAsync(Topic, new TopicSettings { Partitions = 1 }).AsTask());
    }

    [Fact]
    public async Task Reopen_AfterUpdate_KeepsSettingsAndData()
    {
        await using (var log = await OpenAsync())
        {
            await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2, RetentionTime = TimeSpan.FromHours(5), Compacted = true });
            await log.AppendAsync(Topic, 1, [Value("a"), Value("b")]);
        }

        await using (var log = await OpenAsync())
        {
            var info = await log.DescribeTopicAsync(Topic);
            Assert.NotNull(info);
            Assert.Equal(new TopicSettings { Partitions = 2, RetentionTime = TimeSpan.FromHours(5), Compacted = true }, info.Settings);
            Assert.Equal(2, info.Partitions[1].EndOffset);
            var result = await log.AppendAsync(Topic, 1, [Value("c")]);
            Assert.Equal(2, result.BaseOffset);
            Assert.Equal(["a", "b", "c"], (await ReadAllAsync(log, Topic, 1)).Select(r => r.Text()));
        }
    }

    [Fact]
    public async Task DeleteTopic_RemovesFilesAndAnswersFalseTheSecondTime()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        await log.AppendAsync(Topic, 0, [Value("x")]);
        Assert.True(await log.DeleteTopicAsync(Topic));
        Assert.False(await log.DeleteTopicAsync(Topic));
        Assert.Null(await log.DescribeTopicAsync(Topic));
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "topics", "acme", "orders", "events")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_dir.Path, "trash")));
        await Assert.ThrowsAsync<TopicNotFoundException>(() => log.AppendAsync(Topic, 0, [Value("y")]).AsTask());

        // The name can be used again, from offset 0.
        await log.CreateTopicAsync(Topic, new TopicSettings());
        Assert.Equal(0, (await log.AppendAsync(Topic, 0, [Value("z")])).BaseOffset);
    }

    [Fact]
    public async Task Open_WithLeftoverTrash_DeletesIt()
    {
        var trash = Path.Combine(_dir.Path, "trash", "abc", "0");
        Directory.CreateDirectory(trash);
        File.WriteAllText(Path.Combine(trash, "00000000000000000000.log"), "half-deleted");
        await using var log = await OpenAsync();
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_dir.Path, "trash")));
        Assert.Empty(await log.ListTopicsAsync());
    }

    [Fact]
    public async Task Append_Batch_GetsConsecutiveOffsetsAndReadsBackEveryField()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var ts = new DateTimeOffset(2025, 5, 1, 12, 0, 0, TimeSpan.Zero);
        var first = await log.AppendAsync(Topic, 0, [Value("one")]);
        var second = await log.AppendAsync(Topic, 0,
        [
            new RecordToAppend("k"u8.ToArray(), "two"u8.ToArray(), [new("content-type", "text/plain"), new("é", "ü")], ts),
            new RecordToAppend("k"u8.ToArray(), null),
            new RecordToAppend(Array.Empty<byte>(), Array.Empty<byte>()),
        ]);
        Assert.Equal((0L, 1), (first.BaseOffset, first.Count));
        Assert.Equal((1L, 3, 3L), (second.BaseOffset, second.Count, second.LastOffset));

        var read = await log.ReadAsync(Topic, 0, 0, 100, 1 << 20);
        Assert.Equal(4, read.EndOffset);
        Assert.Equal(4, read.NextOffset);
        Assert.Equal([0L, 1, 2, 3], read.Records.Select(r => r.Offset));
        var two = read.Records[1];
        Assert.Equal("k", Encoding.UTF8.GetString(two.Key!.Value.Span));
        Assert.Equal("two", two.Text());
        Assert.Equal(ts, two.Timestamp);
        Assert.Equal([new("content-type", "text/plain"), new("é", "ü")], two.Headers);
        Assert.Null(read.Records[2].Value);
        Assert.Equal(0, read.Records[3].Key!.Value.Length);
        Assert.Equal(0, read.Records[3].Value!.Value.Length);
        Assert.Null(read.Records[0].Key);
    }

    [Fact]
    public async Task Append_UsesInjectedClockForRecordsWithoutTimestamp()
    {
        var time = new ManualTimeProvider();
        await using var log = await OpenAsync(time: time);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var result = await log.AppendAsync(Topic, 0, [Value("a")]);
        Assert.Equal(time.GetUtcNow(), result.Timestamp);
        var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        Assert.Equal(time.GetUtcNow(), info.OldestTimestamp);
        Assert.Equal(time.GetUtcNow(), info.NewestTimestamp);
        Assert.True(info.Bytes > 0);
    }

    [Fact]
    public async Task Append_RecordOverMaximum_ThrowsAndWritesNothingOfTheBatch()
    {
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, MaxRecordBytes = 1000 }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        await log.AppendAsync(Topic, 0, [Value("before")]);
        var ex = await Assert.ThrowsAsync<RecordTooLargeException>(
            () => log.AppendAsync(Topic, 0, [Value("ok"), new RecordToAppend(null, new byte[1001])]).AsTask());
        Assert.Contains("1000", ex.Message);
        Assert.Equal(1, (await log.DescribeTopicAsync(Topic))!.Partitions[0].EndOffset);
        Assert.Equal(1, (await log.AppendAsync(Topic, 0, [Value("after")])).BaseOffset);
    }

    [Fact]
    public async Task AppendAndRead_UnknownTopicOrPartition_ThrowSpecificExceptions()
    {
        await using var log = await OpenAsync();
        await Assert.ThrowsAsync<TopicNotFoundException>(() => log.AppendAsync(Topic, 0, [Value("x")]).AsTask());
        await Assert.ThrowsAsync<TopicNotFoundException>(() => log.ReadAsync(Topic, 0, 0, 10, 100).AsTask());
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        var ex = await Assert.ThrowsAsync<PartitionNotFoundException>(() => log.AppendAsync(Topic, 2, [Value("x")]).AsTask());
        Assert.Equal(2, ex.PartitionCount);
        await Assert.ThrowsAsync<PartitionNotFoundException>(() => log.ReadAsync(Topic, -1, 0, 10, 100).AsTask());
        await Assert.ThrowsAsync<PartitionNotFoundException>(() => log.WaitForDataAsync(Topic, 5, 0).AsTask());
    }

    [Fact]
    public async Task Read_OutsideTheLog_ThrowsOffsetOutOfRangeAndAtEndReturnsEmpty()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        await log.AppendAsync(Topic, 0, [Value("a"), Value("b")]);
        var atEnd = await log.ReadAsync(Topic, 0, 2, 10, 100);
        Assert.Empty(atEnd.Records);
        Assert.Equal((2L, 2L), (atEnd.NextOffset, atEnd.EndOffset));
        var beyond = await Assert.ThrowsAsync<OffsetOutOfRangeException>(() => log.ReadAsync(Topic, 0, 3, 10, 100).AsTask());
        Assert.Equal((3L, 0L, 2L), (beyond.Offset, beyond.StartOffset, beyond.EndOffset));
        await Assert.ThrowsAsync<OffsetOutOfRangeException>(() => log.ReadAsync(Topic, 0, -1, 10, 100).AsTask());
    }

    [Fact]
    public async Task Read_BoundedByCountAndBytes_ReturnsAtLeastOneRecordAndContinues()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        await log.AppendAsync(Topic, 0, Enumerable.Range(0, 50).Select(i => Value(new string('x', 100) + i)).ToList());
        var byCount = await log.ReadAsync(Topic, 0, 10, 3, 1 << 20);
        Assert.Equal([10L, 11, 12], byCount.Records.Select(r => r.Offset));
        Assert.Equal(13, byCount.NextOffset);
        var byBytes = await log.ReadAsync(Topic, 0, 20, 100, 250);
        Assert.InRange(byBytes.Records.Count, 2, 3);
        Assert.Equal(20, byBytes.Records[0].Offset);
        var tiny = await log.ReadAsync(Topic, 0, 49, 100, 1);
        Assert.Equal(49, Assert.Single(tiny.Records).Offset);
    }

    [Fact]
    public async Task ConcurrentAppenders_GetDenseDistinctOffsets_AndEveryRecordReadsBackOnce()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(t => Task.Run(async () =>
        {
            var mine = new List<(long Offset, string Value)>();
            for (var i = 0; i < 20; i++)
            {
                var value = $"{t}-{i}";
                var r = await log.AppendAsync(Topic, 0, [Value(value)]);
                mine.Add((r.BaseOffset, value));
            }

            return mine;
        })));
        var acked = results.SelectMany(x => x).OrderBy(x => x.Offset).ToList();
        Assert.Equal(Enumerable.Range(0, 640).Select(i => (long)i), acked.Select(a => a.Offset));
        var read = await ReadAllAsync(log, Topic, 0);
        Assert.Equal(acked.Select(a => a.Value), read.Select(r => r.Text()));
    }

    [Theory]
    [InlineData(FlushPolicy.Interval)]
    [InlineData(FlushPolicy.Never)]
    public async Task Append_WithRelaxedFlushPolicy_IsVisibleAndSurvivesCleanReopen(FlushPolicy policy)
    {
        await using (var log = await OpenAsync(policy))
        {
            await log.CreateTopicAsync(Topic, new TopicSettings());
            await log.AppendAsync(Topic, 0, [Value("a")]);
            Assert.Equal("a", (await log.ReadAsync(Topic, 0, 0, 10, 100)).Records.Single().Text());
        }

        await using (var log = await OpenAsync(policy))
        {
            Assert.Equal(["a"], (await ReadAllAsync(log, Topic, 0)).Select(r => r.Text()));
        }
    }

    [Fact]
    public async Task WaitForData_CompletesOnAppendWithoutPolling()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var wait = log.WaitForDataAsync(Topic, 0, 0).AsTask();
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);
        await log.AppendAsync(Topic, 0, [Value("a")]);
        await wait.WaitAsync(TimeSpan.FromSeconds(10));

        // Already past: completes at once.
        Assert.True(log.WaitForDataAsync(Topic, 0, 0).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task WaitForData_Cancelled_ThrowsOperationCanceled()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => log.WaitForDataAsync(Topic, 0, 0, cts.Token).AsTask());
    }

    [Fact]
    public async Task WaitForData_TopicDeleted_ThrowsTopicNotFound()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var wait = log.WaitForDataAsync(Topic, 0, 0).AsTask();
        await log.DeleteTopicAsync(Topic);
        var ex = await Assert.ThrowsAsync<TopicNotFoundException>(() => wait.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(Topic, ex.Topic);
    }

    [Fact]
    public async Task FindOffset_ReturnsFirstAtOrAfterTimestampOrEnd()
    {
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, IndexIntervalBytes = 64, SegmentBytes = 4096 }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        var t0 = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 200; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"v{i}", timestamp: t0.AddSeconds(i * 10))]);
        }

        Assert.Equal(0, await log.FindOffsetAsync(Topic, 0, t0.AddDays(-1)));
        Assert.Equal(0, await log.FindOffsetAsync(Topic, 0, t0));
        Assert.Equal(1, await log.FindOffsetAsync(Topic, 0, t0.AddSeconds(1)));
        Assert.Equal(123, await log.FindOffsetAsync(Topic, 0, t0.AddSeconds(1225)));
        Assert.Equal(199, await log.FindOffsetAsync(Topic, 0, t0.AddSeconds(1990)));
        Assert.Equal(200, await log.FindOffsetAsync(Topic, 0, t0.AddSeconds(1991)));
    }

    [Fact]
    public async Task Options_Invalid_OpenThrowsNamingEachBadValue()
    {
        var options = new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 10, MaxRecordBytes = 0, IndexIntervalBytes = -5 };
        Assert.Equal(3, options.Validate().Count);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => EmbeddedLog.OpenAsync(options));
        Assert.Contains("SegmentBytes", ex.Message);
        Assert.Contains("MaxRecordBytes", ex.Message);
        Assert.Contains("IndexIntervalBytes", ex.Message);
        Assert.Empty(new StorageOptions().Validate());
    }

    [Fact]
    public async Task AddSluiceStorage_RegistersEmbeddedLogAsMessageLogOnce()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddSluiceStorage(new StorageOptions { DataDirectory = _dir.Path });
        services.AddSluiceStorage(new StorageOptions { DataDirectory = "elsewhere" });
        var descriptor = Assert.Single(services, d => d.ServiceType == typeof(IMessageLog));
        var created = descriptor.ImplementationFactory!(new EmptyServiceProvider());
        await using var log = Assert.IsType<EmbeddedLog>(created);
        Assert.Equal(_dir.Path, log.Options.DataDirectory);
    }

    private sealed class EmptyServiceProvider : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }
}
