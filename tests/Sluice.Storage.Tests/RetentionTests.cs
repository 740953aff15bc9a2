using System.Text;
using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

public sealed class RetentionTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);
    private readonly ManualTimeProvider _time = new();

    public void Dispose() => _dir.Dispose();

    private string PartitionDir => Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "0");

    private Task<EmbeddedLog> OpenAsync()
        => EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 4096, IndexIntervalBytes = 256 }, _logs, _time);

    [Fact]
    public async Task Retention_ByBytes_DeletesOldestWholeSegmentsAndMovesStartOffset()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { RetentionBytes = 10_000 });
        for (var i = 0; i < 600; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"v{i:D4}" + new string('x', 60))]);
        }

        var before = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        Assert.True(before.Bytes > 30_000);
        var deleted = await log.RunMaintenanceAsync();
        Assert.True(deleted > 0);

        var after = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        Assert.InRange(after.Bytes, 10_000, 10_000 + 4096);
        Assert.Equal(600, after.EndOffset);
        Assert.True(after.StartOffset > 0);
        Assert.Equal($"{after.StartOffset:D20}.log", Directory.GetFiles(PartitionDir, "*.log").Select(Path.GetFileName).Order(StringComparer.Ordinal).First());
        await Assert.ThrowsAsync<OffsetOutOfRangeException>(() => log.ReadAsync(Topic, 0, 0, 1, 1).AsTask());
        var rest = await ReadAllAsync(log, Topic, 0);
        Assert.Equal(Enumerable.Range((int)after.StartOffset, 600 - (int)after.StartOffset).Select(i => (long)i), rest.Select(r => r.Offset));
    }

    [Fact]
    public async Task Retention_ByTime_DeletesOnlySegmentsWhoseNewestRecordIsOlder_AndNeverTheActiveOne()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { RetentionTime = TimeSpan.FromHours(1) });
        for (var i = 0; i < 200; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"old{i}" + new string('x', 60))]);
        }

        _time.Advance(TimeSpan.FromMinutes(90));
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"new{i}")]);
        }

        Assert.Equal(0, (await log.DescribeTopicAsync(Topic))!.Partitions[0].StartOffset);

        // Only the segment holding offset 200 has a new record: every segment before it is wholly old.
        var keep = Directory.GetFiles(PartitionDir, "*.log")
            .Select(f => long.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture))
            .Where(b => b <= 200)
            .Max();
        await log.RunMaintenanceAsync();
        var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        var remaining = await ReadAllAsync(log, Topic, 0);
        Assert.Equal(keep, info.StartOffset);
        Assert.Equal(200 - keep, remaining.Count(r => r.Offset < 200));
        Assert.Equal(["new0", "new1", "new2", "new3", "new4"], remaining.Where(r => r.Offset >= 200).Select(r => r.Text()));
        Assert.True(info.StartOffset > 0);

        // Everything older than an hour, but the active segment stays.
        _time.Advance(TimeSpan.FromHours(5));
        await log.RunMaintenanceAsync();
        info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        Assert.Single(Directory.GetFiles(PartitionDir, "*.log"));
        Assert.Equal(205, info.EndOffset);
    }

    [Fact]
    public async Task Retention_None_KeepsEverything()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings());
        for (var i = 0; i < 200; i++)
        {
            await log.AppendAsync(Topic, 0, [Value(new string('x', 60))]);
        }

        _time.Advance(TimeSpan.FromDays(365));
        Assert.Equal(0, await log.RunMaintenanceAsync());
        Assert.Equal(0, (await log.DescribeTopicAsync(Topic))!.Partitions[0].StartOffset);
    }

    [Fact]
    public async Task Compaction_KeepsNewestRecordPerKey_DropsTombstonedKeys_PreservesOffsets()
    {
        await using (var log = await OpenAsync())
        {
            await log.CreateTopicAsync(Topic, new TopicSettings { Compacted = true });
            var expected = new Dictionary<string, (long Offset, string? Value)>();
            for (var i = 0; i < 400; i++)
            {
                var key = $"key{i % 10}";
                string? value = i % 37 == 0 ? null : $"v{i}-" + new string('x', 50);
                var r = await log.AppendAsync(Topic, 0, [new RecordToAppend(Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value))]);
                expected[key] = (r.BaseOffset, value);
            }

            await log.AppendAsync(Topic, 0, [Value("unkeyed")]);
            var before = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
            await log.RunMaintenanceAsync();
            var after = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
            Assert.True(after.Bytes < before.Bytes / 2, $"compaction should shrink the log: {before.Bytes} -> {after.Bytes}");
            Assert.Equal((before.StartOffset, before.EndOffset), (after.StartOffset, after.EndOffset));
            Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.SegmentCompacted);

            await VerifyCompactedAsync(log, expected);
        }

        // The rewritten segments and their rebuilt indexes survive a reopen, and reads from gaps continue.
        await using (var log = await OpenAsync())
        {
            var all = await ReadAllAsync(log, Topic, 0);
            Assert.Equal(all.Select(r => r.Offset).Order(), all.Select(r => r.Offset));
            Assert.Contains(all, r => r.Text() == "unkeyed");
            var fromGap = await log.ReadAsync(Topic, 0, 1, 1, 1);
            Assert.True(Assert.Single(fromGap.Records).Offset >= 1);
        }
    }

    [Fact]
    public async Task DeleteRecordsBefore_DeletesOnlyClosedSegmentsEntirelyBelowTheOffset_AndSurvivesReopen()
    {
        long start;
        await using (var log = await OpenAsync())
        {
            await log.CreateTopicAsync(Topic, new TopicSettings());
            for (var i = 0; i < 300; i++)
            {
                await log.AppendAsync(Topic, 0, [Value($"v{i:D4}" + new string('x', 60))]);
            }

            var segments = Directory.GetFiles(PartitionDir, "*.log").Length;
            Assert.True(segments > 3);

            await log.DeleteRecordsBeforeAsync(Topic, 0, 150);
            start = (await log.DescribeTopicAsync(Topic))!.Partitions[0].StartOffset;

            // Whole segments only: the one holding offset 150 stays, so the start is at or below it, and above 0.
            Assert.InRange(start, 1, 150);
            Assert.True(Directory.GetFiles(PartitionDir, "*.log").Length < segments);
            await Assert.ThrowsAsync<OffsetOutOfRangeException>(() => log.ReadAsync(Topic, 0, start - 1, 1, 1).AsTask());
            Assert.Equal(Enumerable.Range((int)start, 300 - (int)start).Select(i => (long)i), (await ReadAllAsync(log, Topic, 0)).Select(r => r.Offset));

            // Past the end: every closed segment goes, never the active one.
            await log.DeleteRecordsBeforeAsync(Topic, 0, 1000);
            Assert.Single(Directory.GetFiles(PartitionDir, "*.log"));
            Assert.Equal(300, (await log.DescribeTopicAsync(Topic))!.Partitions[0].EndOffset);
            start = (await log.DescribeTopicAsync(Topic))!.Partitions[0].StartOffset;
        }

        await using (var log = await OpenAsync())
        {
            var p = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
            Assert.Equal((start, 300L), (p.StartOffset, p.EndOffset));
        }
    }

    private static async Task VerifyCompactedAsync(EmbeddedLog log, Dictionary<string, (long Offset, string? Value)> expected)
    {
        var all = await ReadAllAsync(log, Topic, 0);
        var keyed = all.Where(r => r.Key is not null).ToList();
        foreach (var group in keyed.GroupBy(r => Encoding.UTF8.GetString(r.Key!.Value.Span)))
        {
            // The newest record of each key is always there; older ones only in the active segment.
            var newest = group.Last();
            Assert.Equal(expected[group.Key].Offset, newest.Offset);
            Assert.Equal(expected[group.Key].Value, newest.Value is null ? null : newest.Text());
        }

        foreach (var (key, (offset, value)) in expected)
        {
            if (value is not null)
            {
                Assert.Contains(keyed, r => r.Offset == offset);
            }
        }

        Assert.True(keyed.Count < 200, $"most superseded records should be gone, {keyed.Count} left");
    }
}
