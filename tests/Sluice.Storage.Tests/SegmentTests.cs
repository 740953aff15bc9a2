using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

public sealed class SegmentTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private string PartitionDir => Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "0");

    private StorageOptions Small(int segmentBytes = 4096, int indexInterval = 256) => new()
    {
        DataDirectory = _dir.Path,
        SegmentBytes = segmentBytes,
        IndexIntervalBytes = indexInterval,
    };

    private static async Task AppendManyAsync(EmbeddedLog log, int count, int from = 0)
    {
        for (var i = from; i < from + count; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"value-{i:D5}-" + new string('p', 40))]);
        }
    }

    [Fact]
    public async Task Append_PastSegmentSize_RollsIntoNamedSegmentsAndReadsAcrossThem()
    {
        await using var log = await EmbeddedLog.OpenAsync(Small(), _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        await AppendManyAsync(log, 500);

        var logs = Directory.GetFiles(PartitionDir, "*.log").Order(StringComparer.Ordinal).ToList();
        Assert.True(logs.Count > 5, $"expected several segments, got {logs.Count}");
        Assert.Equal("00000000000000000000.log", Path.GetFileName(logs[0]));
        Assert.All(logs, f => Assert.True(new FileInfo(f).Length <= 4096));
        Assert.All(logs, f => Assert.True(File.Exists(Path.ChangeExtension(f, ".index")) && File.Exists(Path.ChangeExtension(f, ".timeindex"))));

        var all = await ReadAllAsync(log, Topic, 0);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)i), all.Select(r => r.Offset));
        Assert.Equal($"value-{321:D5}-" + new string('p', 40), all[321].Text());
    }

    [Fact]
    public async Task Read_FromEveryOffset_UsesIndexesOfClosedAndActiveSegments()
    {
        await using (var log = await EmbeddedLog.OpenAsync(Small(), _logs))
        {
            await log.CreateTopicAsync(Topic, new TopicSettings());
            await AppendManyAsync(log, 300);
            for (var offset = 0; offset < 300; offset += 7)
            {
                var r = await log.ReadAsync(Topic, 0, offset, 2, 1 << 20);
                Assert.Equal(offset, r.Records[0].Offset);
                Assert.Equal($"value-{offset:D5}-" + new string('p', 40), r.Records[0].Text());
            }
        }

        Assert.Contains(Directory.GetFiles(PartitionDir, "*.index"), f => new FileInfo(f).Length > 0);

        // After a reopen every closed segment answers from its index file, not from memory.
        await using (var log = await EmbeddedLog.OpenAsync(Small(), _logs))
        {
            for (var offset = 0; offset < 300; offset += 11)
            {
                var r = await log.ReadAsync(Topic, 0, offset, 1, 1);
                Assert.Equal(offset, Assert.Single(r.Records).Offset);
            }
        }
    }

    [Fact]
    public async Task Append_AfterSegmentAge_RollsEvenWhenSmall()
    {
        var time = new ManualTimeProvider();
        var options = new StorageOptions { DataDirectory = _dir.Path, SegmentAge = TimeSpan.FromHours(1) };
        await using var log = await EmbeddedLog.OpenAsync(options, _logs, time);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        await log.AppendAsync(Topic, 0, [Value("a")]);
        await log.AppendAsync(Topic, 0, [Value("b")]);
        Assert.Single(Directory.GetFiles(PartitionDir, "*.log"));
        time.Advance(TimeSpan.FromMinutes(61));
        await log.AppendAsync(Topic, 0, [Value("c")]);
        Assert.Equal(["00000000000000000000.log", "00000000000000000002.log"],
            Directory.GetFiles(PartitionDir, "*.log").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["a", "b", "c"], (await ReadAllAsync(log, Topic, 0)).Select(r => r.Text()));
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("garbage")]
    [InlineData("partial")]
    [InlineData("outside")]
    public async Task Open_WithMissingOrDamagedIndex_RebuildsItAndReadsCorrectly(string damage)
    {
        await using (var log = await EmbeddedLog.OpenAsync(Small(), _logs))
        {
            await log.CreateTopicAsync(Topic, new TopicSettings());
            await AppendManyAsync(log, 200);
        }

        var index = Path.Combine(PartitionDir, "00000000000000000000.index");
        var original = File.ReadAllBytes(index);
        Assert.NotEmpty(original);
        switch (damage)
        {
            case "delete":
                File.Delete(index);
                break;
            case "garbage":
                File.WriteAllBytes(index, Enumerable.Repeat((byte)0x7F, original.Length).ToArray());
                break;
            case "partial":
                File.WriteAllBytes(index, original[..^3]);
                break;
            case "outside":
                var bad = (byte[])original.Clone();
                BitConverter.TryWriteBytes(bad.AsSpan(bad.Length - 4), 1 << 30);
                File.WriteAllBytes(index, bad);
                break;
        }

        await using (var log = await EmbeddedLog.OpenAsync(Small(), _logs))
        {
            Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.IndexRebuilt);
            Assert.Equal(original, File.ReadAllBytes(index));
            for (var offset = 0; offset < 200; offset += 13)
            {
                Assert.Equal(offset, (await log.ReadAsync(Topic, 0, offset, 1, 1)).Records[0].Offset);
            }
        }
    }
}
