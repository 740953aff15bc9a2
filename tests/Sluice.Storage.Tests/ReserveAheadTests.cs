using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>
/// Under the Always flush policy the active segment keeps zeros written ahead of its data, so that most syncs find the
/// file's blocks allocated (design note 0032). They are never data: a closed segment has none, a clean close cuts them,
/// and the open after a crash cuts them without calling them damage or skipping offsets. Under another flush policy
/// zeros at the end may have been acknowledged records, and are still a torn tail.
/// </summary>
public sealed class ReserveAheadTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TempDirectory _image = new();
    private readonly TempDirectory _imageOtherPolicy = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose()
    {
        _dir.Dispose();
        _image.Dispose();
        _imageOtherPolicy.Dispose();
    }

    private static StorageOptions Options(string directory, FlushPolicy policy = FlushPolicy.Always)
        => new() { DataDirectory = directory, SegmentBytes = 64 * 1024, IndexIntervalBytes = 512, FlushPolicy = policy };

    private static string PartitionDir(string root) => Path.Combine(root, "topics", "acme", "orders", "events", "0");

    private static List<string> Segments(string root) => Directory.GetFiles(PartitionDir(root), "*.log").Order(StringComparer.Ordinal).ToList();

    private static string Payload(int i) => $"record-{i:D4}-" + new string((char)('a' + (i % 26)), 1000);

    [Fact]
    public async Task ZerosAheadOfTheActiveData_AreCutAtRollAndClose_AndTheOpenAfterACrashCutsThemWithoutLoss()
    {
        const int Records = 150; // ~150 KB: three segments of 64 KiB
        long activeDataEnd;
        string active;
        await using (var log = await EmbeddedLog.OpenAsync(Options(_dir.Path), _logs))
        {
            await log.CreateTopicAsync(Topic, new TopicSettings());
            for (var i = 0; i < Records; i++)
            {
                await log.AppendAsync(Topic, 0, [Value(Payload(i))]);
            }

            var segments = Segments(_dir.Path);
            Assert.True(segments.Count >= 3, $"expected several segments, got {segments.Count}");
            foreach (var closed in segments.SkipLast(1))
            {
                Assert.Equal(BatchSpan.Read(closed)[^1].End, new FileInfo(closed).Length);
            }

            active = segments[^1];
            activeDataEnd = BatchSpan.Read(active)[^1].End;
            var bytes = File.ReadAllBytes(active);
            Assert.True(bytes.Length > activeDataEnd, $"the active segment holds {bytes.Length} bytes for {activeDataEnd} of data");
            Assert.False(bytes.AsSpan((int)activeDataEnd).ContainsAnyExcept((byte)0));

            // What a SIGKILL leaves: the files as they are now (the page cache outlives the process).
            foreach (var image in new[] { _image.Path, _imageOtherPolicy.Path })
            {
                foreach (var file in Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories))
                {
                    var copy = Path.Combine(image, Path.GetRelativePath(_dir.Path, file));
                    Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
                    File.Copy(file, copy);
                }
            }
        }

        Assert.Equal(activeDataEnd, new FileInfo(active).Length);

        await using (var log = await EmbeddedLog.OpenAsync(Options(_image.Path), _logs))
        {
            Assert.DoesNotContain(_logs.Entries, e => e.EventId == StorageEventIds.TornTailTruncated || e.EventId == StorageEventIds.CorruptRangeFound);
            Assert.Equal(activeDataEnd, new FileInfo(Segments(_image.Path)[^1]).Length);
            var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
            Assert.Equal(Records, info.EndOffset);
            Assert.True(info.CorruptRanges is null or { Count: 0 });
            var read = await ReadAllAsync(log, Topic, 0);
            Assert.Equal(Enumerable.Range(0, Records).Select(Payload), read.Select(r => r.Text()));

            // No offset skipped: nothing was cut that could have been acknowledged.
            Assert.Equal(Records, (await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset);
        }

        // Under another flush policy a zero tail may have held records acknowledged before their sync: it is a torn
        // tail, said so, and appends resume above every offset that may have been handed out.
        await using (var log = await EmbeddedLog.OpenAsync(Options(_imageOtherPolicy.Path, FlushPolicy.Interval), _logs))
        {
            Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.TornTailTruncated);
            Assert.Equal(Enumerable.Range(0, Records).Select(Payload), (await ReadAllAsync(log, Topic, 0)).Select(r => r.Text()));
            Assert.True((await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset >= Records);
        }
    }
}
