using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.FileDamage;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>
/// Damage a closed log on disk, reopen it, and check: every intact record is served, nothing damaged is, the lost
/// offsets are reported exactly, and no offset is handed out twice.
/// </summary>
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

    private static long BaseOf(string segment) => long.Parse(Path.GetFileNameWithoutExtension(segment), System.Globalization.CultureInfo.InvariantCulture);

    // Reads every offset it can, from the start to the end; a damaged range is noted and the read continues after it.
    // Every record returned must be exactly what was written at that offset, and returned once.
    private static async Task<(List<StoredRecord> Served, List<(long From, long To)> Lost)> ReadEverythingAsync(EmbeddedLog log)
    {
        var served = new List<StoredRecord>();
        var lost = new List<(long, long)>();
        var info = (await log.DescribeTopicAsync(Topic))!.Partitions[0];
        var offset = info.StartOffset;
        while (offset < info.EndOffset)
        {
            try
            {
                var r = await log.ReadAsync(Topic, 0, offset, 50, 4096);
                served.AddRange(r.Records);
                Assert.True(r.NextOffset > offset, "a read must make progress");
                offset = r.NextOffset;
            }
            catch (CorruptRecordsException ex)
            {
                Assert.True(ex.FromOffset <= offset && offset < ex.ToOffset, $"read at {offset} was refused with {ex.FromOffset}..{ex.ToOffset}");
                Assert.DoesNotContain(Path.GetTempPath(), ex.Message, StringComparison.Ordinal);
                lost.Add((ex.FromOffset, ex.ToOffset));
                offset = ex.ToOffset;
            }
        }

        foreach (var r in served)
        {
            Assert.Equal(Payload(r.Offset), r.Text());
        }

        Assert.Equal(served.Select(r => r.Offset).Distinct().Count(), served.Count);
        return (served, lost);
    }

    private async Task<long> EndAsync(EmbeddedLog log) => (await log.DescribeTopicAsync(Topic))!.Partitions[0].EndOffset;

    [Fact]
    public async Task Open_WithTornActiveTail_CutsIt_ReportsTheLostOffsets_AndAppendsResumeAfterThem()
    {
        await WriteLogAsync();
        var active = Segments()[^1];
        Cut(active, new FileInfo(active).Length - 5); // the last batch cut short, as if the disk lost its end

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.TornTailTruncated && e.Message.Contains(active, StringComparison.Ordinal));
        Assert.Equal(Records, await EndAsync(log));
        var (served, lost) = await ReadEverythingAsync(log);
        Assert.Equal(Records - 3, served.Count);
        Assert.Equal([(Records - 3L, (long)Records)], lost);
        var range = Assert.Single((await log.DescribeTopicAsync(Topic))!.Partitions[0].CorruptRanges!);
        Assert.Equal((Records - 3L, (long)Records), (range.FromOffset, range.ToOffset));

        // The lost offsets were acknowledged once: they are never handed out again.
        var next = await log.AppendAsync(Topic, 0, [Value(Payload(Records))]);
        Assert.Equal(Records, next.BaseOffset);
        Assert.Equal(Payload(Records), (await log.ReadAsync(Topic, 0, Records, 1, 1)).Records[0].Text());
    }

    [Fact]
    public async Task Open_WithActiveSegmentCutAtABatchBoundary_ReportsTheLostOffsets_AndAppendsResumeAfterThem()
    {
        await WriteLogAsync();
        var active = Segments()[^1];
        var last = BatchSpan.Read(active)[^1];
        Cut(active, last.Position); // whole batches gone: nothing torn for a scan to see

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.Equal(Records, await EndAsync(log));
        var (served, lost) = await ReadEverythingAsync(log);
        Assert.Equal(Records - 3, served.Count);
        Assert.Equal([(last.FirstOffset, last.LastOffset + 1)], lost);
        Assert.Equal(Records, (await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset);
    }

    [Theory]
    [InlineData("record")]
    [InlineData("length")]
    [InlineData("base offset")]
    public async Task Open_WithOneDamagedBatchInActiveSegment_SkipsOnlyThatBatch_AndKeepsEveryOneAfterIt(string where)
    {
        await WriteLogAsync();
        var active = Segments()[^1];
        var batches = BatchSpan.Read(active);
        Assert.True(batches.Count > 6, "the active segment holds batches on both sides of the damage");
        var victim = batches[batches.Count / 2];
        Flip(active, where switch
        {
            "length" => victim.Position + 9,
            "base offset" => victim.Position + 2,
            _ => victim.Position + victim.Size - 7,
        });

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.DoesNotContain(_logs.Entries, e => e.EventId == StorageEventIds.TornTailTruncated);
        Assert.Equal(Records, await EndAsync(log));
        var (served, lost) = await ReadEverythingAsync(log);
        Assert.Equal([(victim.FirstOffset, victim.LastOffset + 1)], lost);
        Assert.Equal(Records - 3, served.Count);
        Assert.Contains(served, r => r.Offset == victim.LastOffset + 1);
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.CorruptRangeFound
            && e.Message.Contains($"offsets {victim.FirstOffset}..{victim.LastOffset}", StringComparison.Ordinal));
        Assert.Equal(Records, (await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset);
    }

    [Fact]
    public async Task Read_FlippedByteInClosedSegment_StopsBeforeIt_RefusesExactlyItsOffsets_AndReadsOnAfterIt()
    {
        await WriteLogAsync();
        var segments = Segments();
        Assert.True(segments.Count >= 3);
        var closed = segments[1];
        var victim = BatchSpan.Read(closed)[10];
        Flip(closed, victim.Position + victim.Size / 2, 0x01);
        using var counted = new CounterProbe("Sluice.Storage", "sluice.storage.corrupt_ranges", Topic);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);

        // A read from before the damage gets the records before it, and no more.
        var before = await log.ReadAsync(Topic, 0, BaseOf(closed), 1000, 1024 * 1024);
        Assert.Equal(victim.FirstOffset, before.NextOffset);
        Assert.Equal(victim.FirstOffset - BaseOf(closed), before.Records.Count);

        // A read in the damage says exactly which offsets are lost and where to go on.
        var ex = await Assert.ThrowsAsync<CorruptRecordsException>(() => log.ReadAsync(Topic, 0, victim.FirstOffset + 1, 10, 4096).AsTask());
        Assert.Equal((victim.FirstOffset, victim.LastOffset + 1), (ex.FromOffset, ex.ToOffset));
        Assert.Equal(0, ex.Partition);
        Assert.Contains("CRC-32C mismatch in segment " + Path.GetFileNameWithoutExtension(closed), ex.Reason, StringComparison.Ordinal);
        var after = await log.ReadAsync(Topic, 0, ex.ToOffset, 10, 4096);
        Assert.Equal(Payload(ex.ToOffset), after.Records[0].Text());

        var (served, lost) = await ReadEverythingAsync(log);
        Assert.Equal([(victim.FirstOffset, victim.LastOffset + 1)], lost);
        Assert.Equal(Records - 3, served.Count);

        // Visible without reading: status, problems, one count per range.
        var range = Assert.Single((await log.DescribeTopicAsync(Topic))!.Partitions[0].CorruptRanges!);
        Assert.Equal((victim.FirstOffset, victim.LastOffset + 1), (range.FromOffset, range.ToOffset));
        Assert.Contains(await log.GetProblemsAsync(), p => p.Topic == Topic && p.Kind == "corrupt-records");
        Assert.Equal(1, counted.Total);
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.CorruptRangeFound && e.Message.Contains(closed, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Read_DamageFound_IsStillReportedAfterReopen_AndRefusedWithoutReadingAgain()
    {
        await WriteLogAsync();
        var closed = Segments()[0];
        var victim = BatchSpan.Read(closed)[5];
        Flip(closed, victim.Position + 20);
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            await ReadEverythingAsync(log);
        }

        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            var range = Assert.Single((await log.DescribeTopicAsync(Topic))!.Partitions[0].CorruptRanges!);
            Assert.Equal((victim.FirstOffset, victim.LastOffset + 1), (range.FromOffset, range.ToOffset));
            var ex = await Assert.ThrowsAsync<CorruptRecordsException>(() => log.ReadAsync(Topic, 0, victim.FirstOffset, 10, 4096).AsTask());
            Assert.Equal(victim.LastOffset + 1, ex.ToOffset);
        }
    }

    [Fact]
    public async Task Read_DamagedBaseOffsetInClosedSegment_IsCaughtByCrc()
    {
        await WriteLogAsync();
        var closed = Segments()[1];
        var first = BatchSpan.Read(closed)[0];
        Flip(closed, 1, 0x04); // the first batch's base offset, +1024 if it were believed

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        var ex = await Assert.ThrowsAsync<CorruptRecordsException>(() => log.ReadAsync(Topic, 0, BaseOf(closed), 10, 4096).AsTask());
        Assert.Equal((first.FirstOffset, first.LastOffset + 1), (ex.FromOffset, ex.ToOffset));
        Assert.Contains("at byte 0", ex.Reason, StringComparison.Ordinal);
        var (_, lost) = await ReadEverythingAsync(log);
        Assert.Equal([(first.FirstOffset, first.LastOffset + 1)], lost);
    }

    [Fact]
    public async Task Open_ClosedSegmentCutShort_ReportsItsLostTail_AndServesEverythingElse()
    {
        await WriteLogAsync();
        var segments = Segments();
        var closed = segments[0];
        var batches = BatchSpan.Read(closed);
        var cutAt = batches[batches.Count / 3].Position + 30; // inside a batch
        Cut(closed, cutAt);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        var (served, lost) = await ReadEverythingAsync(log);
        var firstLost = batches[batches.Count / 3].FirstOffset;
        Assert.Equal([(firstLost, BaseOf(segments[1]))], lost);
        Assert.Equal(Records - (BaseOf(segments[1]) - firstLost), served.Count);
        Assert.Equal(Records, (await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset);
    }

    [Fact]
    public async Task Open_WithDamagedIndexFiles_ServesEveryRecord()
    {
        var random = new Random(4242);
        for (var round = 0; round < 12; round++)
        {
            Reset();
            await WriteLogAsync();
            foreach (var segment in Segments().SkipLast(1))
            {
                foreach (var index in new[] { Path.ChangeExtension(segment, ".index"), Path.ChangeExtension(segment, ".timeindex") })
                {
                    var length = new FileInfo(index).Length;
                    if (random.Next(4) == 0)
                    {
                        Cut(index, random.Next((int)length));
                    }
                    else
                    {
                        Flip(index, random.Next((int)length), (byte)(1 + random.Next(255)));
                    }
                }
            }

            await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
            var (served, lost) = await ReadEverythingAsync(log);
            Assert.Empty(lost);
            Assert.Equal(Records, served.Count);
            for (var o = 0; o < Records; o += 37)
            {
                Assert.Equal(Payload(o), (await log.ReadAsync(Topic, 0, o, 1, 1)).Records[0].Text());
            }
        }
    }

    [Fact]
    public async Task Open_WithATimeIndexEntryBeyondAnyDate_RebuildsIt_AndDescribesTheRealNewestTimestamp()
    {
        await WriteLogAsync();
        DateTimeOffset? newest;
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            newest = (await log.DescribeTopicAsync(Topic))!.Partitions[0].NewestTimestamp;
        }

        // The last entry's second-highest byte flipped: the entries still increase, but the timestamp is no date at all.
        foreach (var segment in Segments())
        {
            var timeIndex = Path.ChangeExtension(segment, ".timeindex");
            var length = new FileInfo(timeIndex).Length;
            Assert.True(length >= 12, $"{timeIndex} has entries");
            Flip(timeIndex, (int)length - 12 + 6, 0x6B);
        }

        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            Assert.Equal(newest, (await log.DescribeTopicAsync(Topic))!.Partitions[0].NewestTimestamp);
            Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.IndexRebuilt && e.Message.Contains("outside any date", StringComparison.Ordinal));
            var (served, lost) = await ReadEverythingAsync(log);
            Assert.Empty(lost);
            Assert.Equal(Records, served.Count);
        }
    }

    [Fact]
    public async Task Open_AfterARebuildPastDamageAtTheStart_KeepsTheRebuiltIndex()
    {
        // Damage longer than the index interval at a segment's start: the rebuilt index's first entry comes before any
        // intact batch, so its running max timestamp is long.MinValue. That entry is well formed, and a second open
        // must trust it rather than rebuild again (and log the damage again) on every start.
        await WriteLogAsync();
        var segment = Segments()[0];
        var batches = BatchSpan.Read(segment);
        foreach (var batch in batches.Where(b => b.Position <= 2 * Options.IndexIntervalBytes))
        {
            Flip(segment, batch.Position + 30);
        }

        File.Delete(Path.ChangeExtension(segment, ".index"));
        File.Delete(Path.ChangeExtension(segment, ".timeindex"));
        var index = Path.ChangeExtension(segment, ".index");
        int Rebuilds() => _logs.Entries.Count(e => e.EventId == StorageEventIds.IndexRebuilt && e.Message.Contains(index, StringComparison.Ordinal));

        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            Assert.Equal(1, Rebuilds());
        }

        var timeIndex = File.ReadAllBytes(Path.ChangeExtension(segment, ".timeindex"));
        Assert.Equal(long.MinValue, System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(timeIndex));

        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            Assert.Equal(1, Rebuilds());
            var (served, lost) = await ReadEverythingAsync(log);
            Assert.Single(lost);
            Assert.Equal(Records - (lost[0].To - lost[0].From), served.Count);
        }
    }

    [Fact]
    public async Task Read_WithAnIndexEntryNamingAWrongOffset_RepairsTheIndex_AndSkipsNoRecord()
    {
        await WriteLogAsync();
        var closed = Segments()[0];
        var index = Path.ChangeExtension(closed, ".index");
        var bytes = File.ReadAllBytes(index);
        Assert.True(bytes.Length >= 3 * 8, "the closed segment has index entries");

        // Entry 1 (in both files) still increases and points at a real batch, so it passes every check at open, but it now
        // claims a batch two offsets earlier than the one it points at: believed, a read of those two offsets would skip them.
        var rel = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var previous = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(0));
        Assert.True(rel - 2 > previous);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), rel - 2);
        File.WriteAllBytes(index, bytes);
        var timeIndex = Path.ChangeExtension(closed, ".timeindex");
        var timeBytes = File.ReadAllBytes(timeIndex);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(timeBytes.AsSpan(12 + 8), rel - 2);
        File.WriteAllBytes(timeIndex, timeBytes);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        var target = BaseOf(closed) + rel - 2;
        var read = await log.ReadAsync(Topic, 0, target, 1, 1);
        Assert.Equal(target, read.Records[0].Offset);
        Assert.Equal(Payload(target), read.Records[0].Text());
        Assert.Contains(_logs.Entries, e => e.EventId == StorageEventIds.IndexRebuilt && e.Message.Contains(index, StringComparison.Ordinal));
        Assert.Equal(rel, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(File.ReadAllBytes(index).AsSpan(8)));
    }

    [Fact]
    public async Task Open_WithRandomDamageManyTimes_ServesEveryIntactRecord_NeverADamagedOne_AndReusesNoOffset()
    {
        var seed = Environment.GetEnvironmentVariable("SLUICE_FAULT_SEED") is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, System.Globalization.CultureInfo.InvariantCulture)
            : Environment.TickCount;
        output.WriteLine($"seed {seed} (SLUICE_FAULT_SEED={seed} repeats this run)");
        var random = new Random(seed);
        for (var round = 0; round < 20; round++)
        {
            Reset();
            await WriteLogAsync();
            var segments = Segments();
            var victim = segments[random.Next(segments.Count)];
            var batches = BatchSpan.Read(victim);
            var length = new FileInfo(victim).Length;
            var damaged = new HashSet<long>();
            var boundaryCut = false;
            if (random.Next(3) == 0)
            {
                var at = random.Next((int)length);
                Cut(victim, at);
                boundaryCut = batches.Any(b => b.Position == at);
                damaged.UnionWith(batches.Where(b => b.End > at).SelectMany(b => Offsets(b)));
                output.WriteLine($"round {round}: cut {Path.GetFileName(victim)} at {at} of {length}");
            }
            else
            {
                for (var i = 0; i < 1 + random.Next(4); i++)
                {
                    var at = random.Next((int)length);
                    Flip(victim, at, (byte)(1 + random.Next(255)));
                    damaged.UnionWith(batches.Where(b => b.Position <= at && at < b.End).SelectMany(b => Offsets(b)));
                    output.WriteLine($"round {round}: flipped {Path.GetFileName(victim)} at {at} of {length}");
                }
            }

            await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
            var (served, lost) = await ReadEverythingAsync(log);
            var servedOffsets = served.Select(r => r.Offset).ToHashSet();
            for (long o = 0; o < Records; o++)
            {
                if (!damaged.Contains(o))
                {
                    Assert.True(servedOffsets.Contains(o), $"round {round}: intact record {o} was not served");
                }
                else if (!(boundaryCut && victim != segments[^1]))
                {
                    // Lost records are reported (a closed segment cut exactly between batches is the known exception).
                    Assert.True(servedOffsets.Contains(o) || lost.Any(l => l.From <= o && o < l.To), $"round {round}: lost record {o} was not reported");
                }
            }

            Assert.True((await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset >= Records, "an offset was handed out twice");
        }

        static IEnumerable<long> Offsets(BatchSpan b)
        {
            for (var o = b.FirstOffset; o <= b.LastOffset; o++)
            {
                yield return o;
            }
        }
    }

    [Fact]
    public async Task Open_DataFromBeforeTheHighWaterMark_OpensAndAppendsAtItsEnd()
    {
        await WriteLogAsync();
        var mark = Path.Combine(PartitionDir, "high-water-mark");
        Assert.True(File.Exists(mark));
        File.Delete(mark);

        await using var log = await EmbeddedLog.OpenAsync(Options, _logs);
        Assert.Equal(Records, (await log.AppendAsync(Topic, 0, [Value(Payload(Records))])).BaseOffset);
        Assert.True(File.Exists(mark));
        var (served, lost) = await ReadEverythingAsync(log);
        Assert.Empty(lost);
        Assert.Equal(Records + 1, served.Count);
    }

    private void Reset()
    {
        foreach (var dir in Directory.GetDirectories(_dir.Path))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
