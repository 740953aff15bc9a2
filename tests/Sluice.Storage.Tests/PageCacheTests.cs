using System.Diagnostics;
using System.Globalization;
using Sluice.Core.Log;
using Xunit.Abstractions;
using static Sluice.Storage.Tests.TestRecords;

namespace Sluice.Storage.Tests;

/// <summary>
/// The page-cache window: after each fsync, the log gives the kernel back the pages of what it wrote before the last
/// <see cref="StorageOptions.PageCacheWindowBytes"/>, so a log that only grows does not fill memory with pages its
/// readers have moved past; readers further behind read the same records from the file. What is resident is asked of
/// the kernel itself (<c>fincore</c>, util-linux's view of mincore(2)).
/// </summary>
public sealed class PageCacheTests(ITestOutputHelper output) : IDisposable
{
    private const int ValueBytes = 100 * 1024;
    private const int Records = 300; // 30 MB written, more than seven times the window

    private readonly TempDirectory _dir = new();
    private readonly TestLoggerFactory _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task WrittenPagesBehindTheWindow_LeaveThePageCache_AndEveryRecordIsStillRead()
    {
        const long window = 4L * 1024 * 1024;
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, PageCacheWindowBytes = window }, _logs);
        var (size, resident) = await WriteAllAsync(log);
        Assert.True(size > 6 * window);

        // The window and at most one release step not yet given back; everything before it was dropped after its fsync.
        Assert.InRange(resident, 0, window + (4L * 1024 * 1024) + 65536);

        var all = await ReadAllAsync(log, Topic, 0);
        Assert.Equal(Records, all.Count);
        for (var i = 0; i < Records; i++)
        {
            Assert.Equal(i, all[i].Offset);
            Assert.Equal(Payload(i), all[i].Text());
        }
    }

    [Fact]
    public async Task WindowZero_LeavesThePageCacheToTheKernel()
    {
        await using var log = await EmbeddedLog.OpenAsync(new StorageOptions { DataDirectory = _dir.Path, PageCacheWindowBytes = 0 }, _logs);
        var (size, resident) = await WriteAllAsync(log);

        // Nothing was given back: the kernel keeps what it wrote unless memory runs short, which 30 MB on this machine does not make it.
        Assert.True(resident > size / 2, $"only {resident} of {size} B resident");
        Assert.Equal(Records, (await ReadAllAsync(log, Topic, 0)).Count);
    }

    // Appends every record, one fsync each (flush `always`), and returns the segment's size and what of it is resident.
    private async Task<(long Size, long Resident)> WriteAllAsync(EmbeddedLog log)
    {
        await log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        for (var i = 0; i < Records; i++)
        {
            await log.AppendAsync(Topic, 0, [Value(Payload(i))]);
        }

        var segment = Directory.GetFiles(Path.Combine(_dir.Path, "topics", "acme", "orders", "events", "0"), "*.log").Single();
        var size = new FileInfo(segment).Length;
        var resident = await ResidentBytesAsync(segment);
        output.WriteLine($"segment {size} B, resident {resident} B");
        return (size, resident);
    }

    private static string Payload(int i) => i.ToString("D6", CultureInfo.InvariantCulture) + new string((char)('a' + (i % 26)), ValueBytes - 6);

    private static async Task<long> ResidentBytesAsync(string file)
    {
        var start = new ProcessStartInfo("fincore") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--bytes", "--noheadings", "--output", "RES", file })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"fincore failed: {await process.StandardError.ReadToEndAsync()}");
        return long.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }
}
