using Sluice.Core.Log;
using Sluice.Core.Topics;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>The log on a real, small tmpfs that fills up: appends, deletes and creates on a full disk, and after space is freed.</summary>
public sealed class StorageFullTests(ITestOutputHelper output) : IDisposable
{
    private readonly TmpfsMount _disk = new(4 * 1024 * 1024);
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _disk.Dispose();

    private StorageOptions Options => new()
    {
        DataDirectory = Path.Combine(_disk.Path, "data"),
        SegmentBytes = 64 * 1024,
        IndexIntervalBytes = 512,
    };

    private static string Big(int i) => $"record-{i:D5}-" + new string((char)('a' + (i % 26)), 4000);

    // Appends 4 KB records to the partition until the disk refuses one; returns what was acknowledged (offset -> value)
    // and the refusal.
    private static async Task<(Dictionary<long, string> Acked, StorageFullException Refused)> FillPartitionAsync(EmbeddedLog log, TopicName topic, int partition, int first = 0)
    {
        var acked = new Dictionary<long, string>();
        for (var i = first; i < first + 2000; i++)
        {
            try
            {
                var result = await log.AppendAsync(topic, partition, [Value(Big(i))]);
                acked[result.BaseOffset] = Big(i);
            }
            catch (StorageFullException full)
            {
                return (acked, full);
            }
        }

        throw new InvalidOperationException("the disk never filled up");
    }

    [Fact]
    public async Task Append_OnAFullDisk_FailsWithStorageFullForThatPartition_IsCounted_AndSucceedsOnceSpaceIsFreed()
    {
        var topic = new TopicName("acme", "full", "appends");
        using var refusals = new CounterProbe("Sluice.Storage", "sluice.storage.full_errors", topic);
        Dictionary<long, string> acked;
        long end;
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            await log.CreateTopicAsync(topic, new TopicSettings { Partitions = 2 });
            var filler = _disk.Fill(leave: 256 * 1024);
            (acked, var refused) = await FillPartitionAsync(log, topic, 1);
            Assert.NotEmpty(acked);
            Assert.Equal(topic, refused.Topic);
            Assert.Equal(1, refused.Partition);
            Assert.Contains("partition 1 of topic 'acme/full/appends'", refused.Message, StringComparison.Ordinal);
            Assert.True(refusals.Total >= 1, "the refused append is counted");

            // Refused again while full, and nothing of the refused appends is visible.
            await Assert.ThrowsAsync<StorageFullException>(() => log.AppendAsync(topic, 1, [Value(Big(9999))]).AsTask());
            end = (await log.DescribeTopicAsync(topic))!.Partitions[1].EndOffset;
            Assert.Equal(acked.Keys.Max() + 1, end);
            var problems = await log.GetProblemsAsync();
            Assert.Contains(problems, p => p.Topic == topic && p.Partition == 1 && p.Kind == "storage-full");

            // Space comes back: the same partition takes appends again, without a restart, at the next offset.
            File.Delete(filler);
            var again = await log.AppendAsync(topic, 1, [Value(Big(5000))]);
            Assert.Equal(end, again.BaseOffset);
            acked[again.BaseOffset] = Big(5000);
            Assert.DoesNotContain(await log.GetProblemsAsync(), p => p.Topic == topic);
            var read = await ReadAllAsync(log, topic, 1);
            Assert.Equal(acked.OrderBy(a => a.Key).Select(a => (a.Key, a.Value)), read.Select(r => (r.Offset, r.Text())));
        }

        // And after a restart: every acknowledged record, nothing else.
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            var read = await ReadAllAsync(log, topic, 1);
            Assert.Equal(acked.OrderBy(a => a.Key).Select(a => (a.Key, a.Value)), read.Select(r => (r.Offset, r.Text())));
        }
    }

    [Fact]
    public async Task DeleteTopic_OnAFullDisk_RemovesItsFiles_FreesTheSpace_AndStaysGoneAfterReopen()
    {
        var doomed = new TopicName("acme", "full", "doomed");
        var kept = new TopicName("acme", "full", "kept");
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            await log.CreateTopicAsync(kept, new TopicSettings { Partitions = 1 });
            await log.CreateTopicAsync(doomed, new TopicSettings { Partitions = 2 });
            await log.AppendAsync(kept, 0, [Value("before")]);
            var (acked, _) = await FillPartitionAsync(log, doomed, 0);
            Assert.True(acked.Count > 100, $"{acked.Count} records fill most of the disk");
            // Larger than the zeros the partition reserved ahead of its data (at most a segment): needs new blocks.
            await Assert.ThrowsAsync<StorageFullException>(() => log.AppendAsync(kept, 0, [.. Enumerable.Range(1, 20).Select(i => Value(Big(i)))]).AsTask());
            var freeBefore = _disk.Free;

            Assert.True(await log.DeleteTopicAsync(doomed));

            Assert.False(Directory.Exists(Path.Combine(Options.DataDirectory, "topics", "acme", "full", "doomed")));
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Options.DataDirectory, "trash")));
            Assert.True(_disk.Free > freeBefore + (acked.Count * 4000L / 2), $"free space grew from {freeBefore} to {_disk.Free}");
            Assert.Null(await log.DescribeTopicAsync(doomed));
            await log.AppendAsync(kept, 0, [Value(Big(2))]);
        }

        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            Assert.Equal([kept], await log.ListTopicsAsync());
            Assert.Equal(["before", Big(2)], (await ReadAllAsync(log, kept, 0)).Select(r => r.Text()));
        }
    }

    [Fact]
    public async Task CreateTopic_OnAFullDisk_FailsWithStorageFull_AndLeavesNothingBehind()
    {
        var topic = new TopicName("acme", "full", "created");
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            _disk.Fill(leave: 0);
            var ex = await Assert.ThrowsAsync<StorageFullException>(() => log.CreateTopicAsync(topic, new TopicSettings { Partitions = 3 }).AsTask());
            Assert.Null(ex.Partition);
            Assert.Contains("'acme/full/created'", ex.Message, StringComparison.Ordinal);
            Assert.Empty(await log.ListTopicsAsync());
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Options.DataDirectory, "tmp")));
            Assert.False(Directory.Exists(Path.Combine(Options.DataDirectory, "topics", "acme", "full", "created")));
        }

        File.Delete(Path.Combine(_disk.Path, "filler"));
        await using (var log = await EmbeddedLog.OpenAsync(Options, _logs))
        {
            Assert.Empty(await log.ListTopicsAsync());
            await log.CreateTopicAsync(topic, new TopicSettings { Partitions = 3 });
            Assert.Equal(0, (await log.AppendAsync(topic, 2, [Value("x")])).BaseOffset);
        }
    }
}
