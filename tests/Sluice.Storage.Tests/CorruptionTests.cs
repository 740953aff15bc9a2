using Sluice.Core.Log;
using Sluice.Storage.Format;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>Damage a closed log on disk, reopen it, and check the damage is found and never served.</summary>
public sealed class CorruptionTests(ITestOutputHelper output) : IDisposable
{
    private const int Records = 300;
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private string PartitionDir => Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "0");

    private StorageOptions Options => new() { DataDirectory = _dir.Path, SegmentBytes = 8192, IndexIntervalBytes = 512 };

    private static string Payload(long i) => $"payload-{i:D6}-" + new string((char)('a' + (i % 26)), 30 + (int)(i % 17));

    private async Task WriteLogAsync()
    {
        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings());
        for (var i = 0; i < Records; i += 3)
        {
            await log.AppendAsync(Topic, 0, [Value(Payload(i)), Value(Payload(i + 1)), Value(Payload(i + 2))]);
        }
    }

    private List<string> Segments() => Directory.GetFiles(PartitionDir, "*.log").Order(StringComparer.Ordinal).ToList();

    // Reads every offset it can; a CorruptLogException skips to the next segment. Every record
    // returned must be exactly what was written at that offset.
    private async Task<(List<StoredRecord> Served, int CorruptErrors)> ReadEverythingAsync(EmbeddedLog log)
    {
        var served = new List<StoredRecord>();
        var errors = 0;
        var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        var bases = Segments().Select(f => long.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var offset = info.StartOffset;
        while (offset < info.EndOffset)
        {
            try
            {
                var r = await log.ReadAsync(Topic, 0, offset, 50, 4096);
                served.AddRange(r.Records);
                offset = r.NextOffset;
            }
            catch (CorruptLogException ex)
            {
                errors++;
                Assert.Contains(".log", ex.File);
                offset = bases.FirstOrDefault(b => b > offset, info.EndOffset);
            }
        }

        foreach (var r in served)
        {
            Assert.Equal(Payload(r.Offset), r.Text());
        }

        Assert.Equal(served.Select(r => r.Offset).Distinct().Count(), served.Count);
        return (served, errors);
    }

    [Fact]
    public async Task Open_WithTornActiveTail_TruncatesLogsItAndAppendContinuesAtNextOffset()
    {
        await WriteLogAsync();
        var active = Segments()[^1];
        var length = new FileInfo(active).Length;
        using (var f = new FileStream(active, FileMode.Open))
        {
            f.SetLength(length - 5); // cut the last batch short, as a crash mid-write would
        }

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.TornTailTruncated && e.Message.Contains(active, StringComparison.Ordinal));
        var end = (await log.DescribeTopicAsync(Topic))!.Partitions[0].EndOffset;
        Assert.Equal(Records - 3, end);
        var (served, errors) = await ReadEverythingAsync(log);
        Assert.Equal(0, errors);
        Assert.Equal(Records - 3, served.Count);

        var next = await log.AppendAsync(Topic, 0, [Value(Payload(Records - 3))]);
        Assert.Equal(Records - 3, next.BaseOffset);
        Assert.Equal(Payload(Records - 3), (await log.ReadAsync(Topic, 0, Records - 3, 1, 1)).Records[0].Text());
    }

    [Fact]
    public async Task Open_WithFlippedByteInActiveSegment_TruncatesFromTheCorruptBatch()
    {
        await WriteLogAsync();
        var active = Segments()[^1];
        var bytes = File.ReadAllBytes(active);
        var flipAt = bytes.Length / 2;
        bytes[flipAt] ^= 0xFF;
        File.WriteAllBytes(active, bytes);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.TornTailTruncated);
        Assert.True(new FileInfo(active).Length <= flipAt);
        var (served, errors) = await ReadEverythingAsync(log);
        Assert.Equal(0, errors);
        var end = (await log.DescribeTopicAsync(Topic))!.Partitions[0].EndOffset;
        Assert.Equal(end, served.Count);
        Assert.True(end < Records);
        Assert.Equal(end, (await log.AppendAsync(Topic, 0, [Value("x")])).BaseOffset);
    }

    [Fact]
    public async Task Read_FlippedByteInClosedSegment_ThrowsCorruptLogAndServesNothingCorrupt()
    {
        await WriteLogAsync();
        var segments = Segments();
        Assert.True(segments.Count >= 3);
        var closed = segments[1];
        var bytes = File.ReadAllBytes(closed);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(closed, bytes);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        var (served, errors) = await ReadEverythingAsync(log);
        Assert.True(errors >= 1);
        Assert.True(served.Count < Records);
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.CorruptBatch && e.Message.Contains(closed, StringComparison.Ordinal));

        // Records after the damage in later segments are still served.
        var last = long.Parse(Path.GetFileNameWithoutExtension(segments[2]), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(served, r => r.Offset == last);
    }

    [Fact]
    public async Task Open_ClosedSegmentCutShort_LogsAndServesOnlyIntactRecords()
    {
        await WriteLogAsync();
        var closed = Segments()[0];
        var length = new FileInfo(closed).Length;
        using (var f = new FileStream(closed, FileMode.Open))
        {
            f.SetLength(length / 3);
        }

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.Contains(_logs.Entries, e => e.EventId is StorageEventIds.IndexRebuilt or StorageEventIds.CorruptBatch);
        var (served, _) = await ReadEverythingAsync(log);
        Assert.True(served.Count < Records);
        Assert.Equal(Records, (await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset);
    }

    [Fact]
    public async Task Open_WithRandomDamageManyTimes_NeverServesACorruptRecord()
    {
        var random = new Random(12345);
        for (var round = 0; round < 15; round++)
        {
            foreach (var dir in Directory.GetDirectories(_dir.Path))
            {
                Directory.Delete(dir, recursive: true);
            }

            await WriteLogAsync();
            var segments = Segments();
            var victim = segments[random.Next(segments.Count)];
            var bytes = File.ReadAllBytes(victim);
            if (random.Next(3) == 0)
            {
                bytes = bytes[..random.Next(bytes.Length)];
            }
            else
            {
                for (var i = 0; i < 1 + random.Next(4); i++)
                {
                    var at = random.Next(bytes.Length);
                    bytes[at] ^= (byte)(1 + random.Next(255));
                }
            }

            File.WriteAllBytes(victim, bytes);
            await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
            await ReadEverythingAsync(log);
        }
    }

    [Fact]
    public async Task Read_DamagedBaseOffsetInClosedSegment_IsCaughtByCrc()
    {
        await WriteLogAsync();
        var closed = Segments()[1];
        var bytes = File.ReadAllBytes(closed);
        bytes[1] ^= 0x04; // the first batch's base offset, +1024 if it were believed
        File.WriteAllBytes(closed, bytes);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        var first = long.Parse(Path.GetFileNameWithoutExtension(closed), System.Globalization.CultureInfo.InvariantCulture);
        var ex = await Assert.ThrowsAsync<CorruptLogException>(() => log.ReadAsync(Topic, 0, first, 10, 4096).AsTask());
        Assert.Equal(closed, ex.File);
        Assert.Equal(0, ex.Position);
        await ReadEverythingAsync(log);
    }
}
