using System.Text;
using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>
/// The tail cache: readers at the end of a partition share records decoded once; what they read is what the files hold,
/// a lagging reader never evicts the tail, and compaction or a size limit never serves a record the log no longer has.
/// </summary>
public sealed class TailCacheTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private Task<EmbeddedLog> OpenAsync(long cacheBytes = 64L * 1024 * 1024, int cacheRecords = 4096)
        => EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, TailCacheBytes = cacheBytes, TailCacheRecords = cacheRecords }, _logs);

    [Fact]
    public async Task ReadersAtTheEnd_ShareTheRecordsOfOneRead()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await log.AppendAsync(Topic, 0, [.. Enumerable.Range(0, 10).Select(i => Value($"v{i}"))]);

        var first = await log.ReadAsync(Topic, 0, 0, 100, 1 << 20);
        var second = await log.ReadAsync(Topic, 0, 0, 100, 1 << 20);
        var fromMiddle = await log.ReadAsync(Topic, 0, 4, 3, 1 << 20);

        Assert.Equal(10, first.Records.Count);
        Assert.Equal(first.Records, second.Records, ReferenceEqualityComparer.Instance);
        Assert.Equal((10, 10), (second.NextOffset, second.EndOffset));
        Assert.Equal([4L, 5L, 6L], fromMiddle.Records.Select(r => r.Offset));
        Assert.Same(first.Records[4], fromMiddle.Records[0]);
        Assert.Equal(7, fromMiddle.NextOffset);
        Assert.True(second.SharedRecords && fromMiddle.SharedRecords);
    }

    [Fact]
    public async Task NewAppends_ExtendTheCache_AndEveryReadMatchesAnUncachedLog()
    {
        await using var log = await OpenAsync(cacheRecords: 16);
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        var readers = new long[3];
        for (var round = 0; round < 20; round++)
        {
            await log.AppendAsync(Topic, 0, [.. Enumerable.Range(0, 7).Select(i => Value($"r{round}-{i}"))]);
            for (var r = 0; r < readers.Length; r++)
            {
                // Reader r reads r+1 records at a time, so the readers fall behind the tail at different speeds.
                var read = await log.ReadAsync(Topic, 0, readers[r], r + 1, 1 << 20);
                Assert.Equal(Enumerable.Range(0, read.Records.Count).Select(i => readers[r] + i), read.Records.Select(x => x.Offset));
                foreach (var record in read.Records)
                {
                    Assert.Equal($"r{record.Offset / 7}-{record.Offset % 7}", Encoding.UTF8.GetString(record.Value!.Value.Span));
                }

                readers[r] = read.NextOffset;
            }
        }

        // Appends extended the cache: a reader at the tail now gets the very records the fastest reader got.
        var tail = await log.ReadAsync(Topic, 0, readers[2] - 3, 3, 1 << 20);
        var again = await log.ReadAsync(Topic, 0, readers[2] - 3, 3, 1 << 20);
        Assert.Equal(tail.Records, again.Records, ReferenceEqualityComparer.Instance);

        // The slow readers still read the older offsets correctly (from the files) after the cache moved past them.
        var old = await log.ReadAsync(Topic, 0, 0, 5, 1 << 20);
        Assert.Equal(["r0-0", "r0-1", "r0-2", "r0-3", "r0-4"], old.Records.Select(x => Encoding.UTF8.GetString(x.Value!.Value.Span)));
    }

    [Fact]
    public async Task ByteLimits_AreHonouredFromTheCache()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await log.AppendAsync(Topic, 0, [.. Enumerable.Range(0, 10).Select(i => Value(new string((char)('a' + i), 100)))]);
        await log.ReadAsync(Topic, 0, 0, 100, 1 << 20);

        var limited = await log.ReadAsync(Topic, 0, 2, 100, 250);

        Assert.InRange(limited.Records.Count, 2, 3);
        Assert.Equal(2, limited.Records[0].Offset);
        Assert.Equal(limited.Records[^1].Offset + 1, limited.NextOffset);
        var tiny = await log.ReadAsync(Topic, 0, 5, 100, 1);
        Assert.Single(tiny.Records);
    }

    [Fact]
    public async Task Compaction_DropsTheCache_SoRemovedRecordsAreNotServed()
    {
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 4096 }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1, Compacted = true });
        for (var i = 0; i < 30; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"v{i}" + new string('x', 50), key: $"k{i % 5}")]);
        }

        // Cached while still the active segment; then more appends close that segment.
        Assert.Equal(30, (await log.ReadAsync(Topic, 0, 0, 1000, 1 << 24)).Records.Count);
        for (var i = 30; i < 300; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"v{i}" + new string('x', 50), key: $"k{i % 5}")]);
        }

        Assert.Equal(30, (await log.ReadAsync(Topic, 0, 0, 30, 1 << 24)).Records.Count);
        await log.RunMaintenanceAsync();

        // The first segment now keeps no record of a key that appears again later: none of the 30 is left.
        var after = await log.ReadAsync(Topic, 0, 0, 30, 1 << 24);
        Assert.All(after.Records, r => Assert.True(r.Offset >= 30, $"offset {r.Offset} was compacted away but served"));
    }

    [Fact]
    public async Task TurnedOff_ReadsStillWork_AndShareNothing()
    {
        await using var log = await OpenAsync(cacheBytes: 0);
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await log.AppendAsync(Topic, 0, [Value("a"), Value("b")]);

        var first = await log.ReadAsync(Topic, 0, 0, 10, 1 << 20);
        var second = await log.ReadAsync(Topic, 0, 0, 10, 1 << 20);

        Assert.Equal(["a", "b"], second.Records.Select(x => Encoding.UTF8.GetString(x.Value!.Value.Span)));
        Assert.NotSame(first.Records[0], second.Records[0]);
        Assert.False(first.SharedRecords || second.SharedRecords);
    }
}
