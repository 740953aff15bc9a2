using Sluice.Core.Log;
using Sluice.Storage.Partitions;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.FileDamage;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>
/// The batch cache: a read that stops inside a stored batch keeps that batch, verified and decoded, so the reads that
/// continue inside it (a subscription's read-ahead takes a few hundred records of a thousand-record batch) neither
/// read nor check it again; every batch is still checked when first read from the file, and memory stays bounded.
/// </summary>
public sealed class BatchCacheTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private string PartitionDir => Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "0");

    // The tail cache off (its record count 0) so that only the batch cache can serve a read again.
    private Task<EmbeddedLog> OpenAsync(long cacheBytes = 64L * 1024 * 1024)
        => EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, TailCacheBytes = cacheBytes, TailCacheRecords = 0 }, _logs);

    private static RecordToAppend[] Batch(int from, int count) => [.. Enumerable.Range(from, count).Select(i => Value($"v{i}"))];

    [Fact]
    public async Task ReadsContinuingInsideABatch_AreServedFromItsVerifiedCopy_WhileABatchFirstReadAfterDamageIsRefused()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await log.AppendAsync(Topic, 0, Batch(0, 1000));
        await log.AppendAsync(Topic, 0, Batch(1000, 1000));
        await log.AppendAsync(Topic, 0, Batch(2000, 1000));

        var first = await log.ReadAsync(Topic, 0, 0, 256, 1 << 20);
        Assert.Equal(Enumerable.Range(0, 256).Select(i => (long)i), first.Records.Select(r => r.Offset));

        // The first and the last batch damaged on disk after the first read: the first was checked and kept whole, the
        // last was never read.
        var segment = Directory.GetFiles(PartitionDir, "*.log").Single();
        var spans = BatchSpan.Read(segment);
        Assert.Equal(3, spans.Count);
        Flip(segment, spans[0].Position + (spans[0].Size / 2));
        Flip(segment, spans[2].Position + (spans[2].Size / 2));

        var next = first.NextOffset;
        while (next < 2000)
        {
            var read = await log.ReadAsync(Topic, 0, next, 256, 1 << 20);
            Assert.NotEmpty(read.Records);
            Assert.Equal(Enumerable.Range((int)next, read.Records.Count).Select(i => $"v{i}"), read.Records.Select(r => r.Text()));

            // Inside the first batch: its kept copy, whose records every reader there is given.
            Assert.True(next >= 1000 || read.SharedRecords, $"the read at {next} says its records are shared");
            next = read.NextOffset;
        }

        Assert.Equal(2000, next);
        var ex = await Assert.ThrowsAsync<CorruptRecordsException>(() => log.ReadAsync(Topic, 0, 2000, 256, 1 << 20).AsTask());
        Assert.Equal((2000L, 3000L), (ex.FromOffset, ex.ToOffset));
        Assert.Contains("CRC-32C mismatch", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadersAtManyPlaces_EachGetExactlyTheirRecords_AndLimitsHold()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        for (var b = 0; b < 12; b++)
        {
            await log.AppendAsync(Topic, 0, Batch(b * 500, 500));
        }

        // Twelve readers (more than the partition keeps batches for), each inside its own batch, taking turns: whatever
        // each read is served from (a cached batch, or the file when another reader evicted it) it is the right records.
        var readers = Enumerable.Range(0, 12).Select(b => (long)(b * 500) + 7).ToArray();
        for (var round = 0; round < 12; round++)
        {
            for (var r = 0; r < readers.Length; r++)
            {
                var count = 17 + r;
                var read = await log.ReadAsync(Topic, 0, readers[r], count, 1 << 20);
                Assert.Equal(count, read.Records.Count);
                Assert.Equal(Enumerable.Range((int)readers[r], count).Select(i => $"v{i}"), read.Records.Select(x => x.Text()));
                Assert.Equal(readers[r] + count, read.NextOffset);
                readers[r] = read.NextOffset;
            }
        }

        // A byte limit ends a read inside a cached batch too (at least one record), and a read across a batch's end goes on.
        var tiny = await log.ReadAsync(Topic, 0, readers[0], 100, 1);
        Assert.Single(tiny.Records);
        var across = await log.ReadAsync(Topic, 0, 490, 20, 1 << 20);
        Assert.Equal(Enumerable.Range(490, across.Records.Count).Select(i => $"v{i}"), across.Records.Select(x => x.Text()));
        var rest = await log.ReadAsync(Topic, 0, across.NextOffset, 20, 1 << 20);
        Assert.Equal(across.NextOffset, rest.Records[0].Offset);
    }

    [Fact]
    public async Task ReadersMeetingAtABatchStart_EachGetExactlyTheirRecords()
    {
        await using var log = await OpenAsync();
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        for (var b = 0; b < 4; b++)
        {
            await log.AppendAsync(Topic, 0, Batch(b * 2000, 2000));
        }

        var segment = Directory.GetFiles(PartitionDir, "*.log").Single();
        var spans = BatchSpan.Read(segment);

        // As a subscription's read-ahead and its consumers' inline reads do: several reads at once at each batch's
        // start, each stopping inside it. One decodes the batch whole and keeps it; the others read only their records.
        for (var b = 0; b < 4; b++)
        {
            var from = b * 2000;
            var reads = await Task.WhenAll(Enumerable.Range(0, 6).Select(r => Task.Run(async () => await log.ReadAsync(Topic, 0, from, 10 + r, 1 << 20))));
            for (var r = 0; r < reads.Length; r++)
            {
                Assert.Equal(Enumerable.Range(from, 10 + r).Select(i => $"v{i}"), reads[r].Records.Select(x => x.Text()));
                Assert.Equal(from + 10 + r, reads[r].NextOffset);
            }

            // Kept: with its bytes on disk damaged now, a read further inside the batch is still served, from the copy.
            Flip(segment, spans[b].Position + (spans[b].Size / 2));
            var inside = await log.ReadAsync(Topic, 0, from + 1500, 100, 1 << 20);
            Assert.Equal(Enumerable.Range(from + 1500, 100).Select(i => $"v{i}"), inside.Records.Select(x => x.Text()));
        }
    }

    [Fact]
    public async Task ASegmentRead_FindingTheBatchClaimed_DecodesOnlyItsRecords_AndKeepsItOnceFree()
    {
        await using (var log = await OpenAsync())
        {
            await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
            await log.AppendAsync(Topic, 0, Batch(0, 1000));
        }

        var segment = Segment.OpenClosed(PartitionDir, 0, DateTimeOffset.UtcNow, _logs.CreateLogger("test"), 4096);
        try
        {
            var cache = new BatchCache(new TailCacheBudget(64L * 1024 * 1024));
            Assert.True(cache.TryClaimDecode(0)); // another read is decoding the batch whole right now

            var claimed = ReadTen(segment, cache);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"v{i}"), claimed.Select(r => r.Text()));
            Assert.Equal(0, cache.Bytes); // only its ten records decoded: nothing kept

            cache.EndDecode(0);
            var free = ReadTen(segment, cache);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"v{i}"), free.Select(r => r.Text()));
            Assert.True(cache.Bytes > 0); // decoded whole and kept,
            Assert.False(cache.TryClaimDecode(0)); // and its claim released
        }
        finally
        {
            segment.Close(flush: false);
        }

        static List<StoredRecord> ReadTen(Segment segment, BatchCache cache)
        {
            var output = new List<StoredRecord>();
            var bytes = 0;
            var next = 0L;
            segment.Read(0, long.MaxValue, 10, 1 << 20, output, ref bytes, ref next, cache);
            return output;
        }
    }

    [Fact]
    public void WholeDecode_ClaimedByOneReadAtATime_AndNotAgainOnceCached()
    {
        var cache = new BatchCache(new TailCacheBudget(64L * 1024 * 1024));
        var records = Enumerable.Range(0, 100).Select(i => new StoredRecord(1000 + i, DateTimeOffset.UnixEpoch, null, new byte[10], [])).ToArray();

        Assert.True(cache.TryClaimDecode(1000));
        Assert.False(cache.TryClaimDecode(1000)); // another read decoding it now: that one reads only its records
        Assert.True(cache.TryClaimDecode(2000)); // a different batch
        cache.EndDecode(2000);
        cache.EndDecode(1000);
        Assert.True(cache.TryClaimDecode(1000)); // the first ended without keeping it: decoded again

        Assert.True(cache.Put(1000, 1100, records));
        cache.EndDecode(1000);
        Assert.False(cache.TryClaimDecode(1000)); // cached since the read missed: not decoded whole again

        cache.Close();
        Assert.False(cache.TryClaimDecode(3000));
    }

    [Fact]
    public async Task NoBudget_ReadsInsideABatchStillWork_FromTheFile()
    {
        await using var log = await OpenAsync(cacheBytes: 0);
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await log.AppendAsync(Topic, 0, Batch(0, 1000));

        var first = await log.ReadAsync(Topic, 0, 0, 300, 1 << 20);
        var second = await log.ReadAsync(Topic, 0, first.NextOffset, 300, 1 << 20);
        var again = await log.ReadAsync(Topic, 0, first.NextOffset, 300, 1 << 20);

        Assert.Equal(Enumerable.Range(300, 300).Select(i => $"v{i}"), second.Records.Select(x => x.Text()));
        Assert.NotSame(second.Records[0], again.Records[0]);
    }

    [Fact]
    public async Task Compaction_DropsCachedBatches_SoRemovedRecordsAreNotServed()
    {
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, SegmentBytes = 8192, TailCacheRecords = 0 }, _logs);
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1, Compacted = true });
        await log.AppendAsync(Topic, 0, [.. Enumerable.Range(0, 100).Select(i => Value($"v{i}", key: $"k{i % 5}"))]);
        for (var i = 100; i < 400; i++)
        {
            await log.AppendAsync(Topic, 0, [Value($"v{i}" + new string('x', 50), key: $"k{i % 5}")]);
        }

        // Stops inside the first batch: kept. Then compaction rewrites its segment without any of its records.
        Assert.Equal(10, (await log.ReadAsync(Topic, 0, 0, 10, 1 << 24)).Records.Count);
        await log.RunMaintenanceAsync();

        var after = await log.ReadAsync(Topic, 0, 10, 10, 1 << 24);
        Assert.All(after.Records, r => Assert.True(r.Offset >= 100, $"offset {r.Offset} was compacted away but served"));
    }

    [Fact]
    public void Cache_HoldsAFewBatchesPerPartition_WithinItsBytes_AndGivesTheBudgetBack()
    {
        var budget = new TailCacheBudget(64L * 1024 * 1024);
        var cache = new BatchCache(budget);
        var value = new byte[1000];
        for (var b = 0; b < 100; b++)
        {
            // 100 batches of 1,000 records of 1 KB (about 1 MB each), as many as a reader far behind would meet.
            var records = Enumerable.Range(0, 1000).Select(i => new StoredRecord((b * 1000) + i, DateTimeOffset.UnixEpoch, null, value, [])).ToArray();
            Assert.True(cache.Put(b * 1000, (b + 1) * 1000, records));
            Assert.InRange(cache.Bytes, 1, BatchCache.MaxPartitionBytes);
            Assert.Equal(cache.Bytes, budget.Used);
        }

        // The most recent batch is served; one evicted long ago is not.
        Assert.Equal(99_500, cache.TryRead(99_500, 100_000, 1, 1 << 20)!.Records[0].Offset);
        Assert.Null(cache.TryRead(500, 100_000, 1, 1 << 20));

        // Over one entry's limit: not kept. A spent budget: not kept either, and nothing taken from the others' share.
        var huge = Enumerable.Range(0, 10_000).Select(i => new StoredRecord(200_000 + i, DateTimeOffset.UnixEpoch, null, value, [])).ToArray();
        Assert.False(cache.Put(200_000, 210_000, huge));
        cache.Clear();
        Assert.Equal(0, budget.Used);
        var small = new BatchCache(new TailCacheBudget(1000));
        Assert.False(small.Put(0, 1000, [.. Enumerable.Range(0, 1000).Select(i => new StoredRecord(i, DateTimeOffset.UnixEpoch, null, value, []))]));
        Assert.Null(small.TryRead(0, 1000, 10, 1 << 20));
    }
}
