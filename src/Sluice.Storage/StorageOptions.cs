namespace Sluice.Storage;

/// <summary>Options of the embedded log (<see cref="EmbeddedLog"/>).</summary>
public sealed record StorageOptions
{
    /// <summary>Root directory of all topics; created when missing.</summary>
    public string DataDirectory { get; init; } = "data";

    /// <summary>When appends are forced to disk. Default <see cref="FlushPolicy.Always"/>.</summary>
    public FlushPolicy FlushPolicy { get; init; } = FlushPolicy.Always;

    /// <summary>Time between fsyncs under <see cref="FlushPolicy.Interval"/>.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A segment is rolled before it would grow past this size. Default 128 MiB, at most 1 GiB.</summary>
    public long SegmentBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>A non-empty segment older than this (since it was created or opened) is rolled on the next append.</summary>
    public TimeSpan SegmentAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Largest record (key, value and headers as encoded), in bytes. Default 1 MiB.</summary>
    public int MaxRecordBytes { get; init; } = 1024 * 1024;

    /// <summary>Bytes of log between two entries of the sparse offset and time indexes. Default 4 KiB.</summary>
    public int IndexIntervalBytes { get; init; } = 4096;

    /// <summary>Time between retention and compaction passes.</summary>
    public TimeSpan RetentionCheckInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Bytes of recently read records kept decoded in memory, shared by all partitions, so many readers at the end of a
    /// partition (one per subscription) read and decode each record once. The same budget holds the stored batches that
    /// reads stopped inside (<see cref="Partitions.BatchCache"/>), so a read continuing inside one does not read and
    /// check it again. Default 64 MiB; 0 turns both off.
    /// </summary>
    public long TailCacheBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Most records one partition's tail cache holds. Default 4096; 0 turns the cache off.</summary>
    public int TailCacheRecords { get; init; } = 4096;

    /// <summary>
    /// Bytes at the end of each partition's active segment left in the kernel's page cache after an fsync; the pages of
    /// what was written before them are given back (<see cref="PageCache"/>), so readers that far behind read the file.
    /// Default 32 MiB; 0 leaves the page cache to the kernel. The <see cref="FlushPolicy.Never"/> policy never flushes,
    /// so it gives nothing back.
    /// </summary>
    public long PageCacheWindowBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Largest segment size accepted by <see cref="Validate"/>: index positions are 32-bit.</summary>
    public const long MaxSegmentBytes = 1L << 30;

    /// <summary>Returns one message per bad value, naming it; empty when the options are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            problems.Add("DataDirectory must be set");
        }

        if (!Enum.IsDefined(FlushPolicy))
        {
            problems.Add($"FlushPolicy must be Always, Interval or Never; got {(int)FlushPolicy}");
        }

        if (FlushPolicy == FlushPolicy.Interval && FlushInterval <= TimeSpan.Zero)
        {
            problems.Add($"FlushInterval must be positive; got {FlushInterval}");
        }

        if (SegmentBytes is < 4096 or > MaxSegmentBytes)
        {
            problems.Add($"SegmentBytes must be between 4096 and {MaxSegmentBytes}; got {SegmentBytes}");
        }

        if (SegmentAge <= TimeSpan.Zero)
        {
            problems.Add($"SegmentAge must be positive; got {SegmentAge}");
        }

        if (MaxRecordBytes is < 1 or > 256 * 1024 * 1024)
        {
            problems.Add($"MaxRecordBytes must be between 1 and {256 * 1024 * 1024}; got {MaxRecordBytes}");
        }

        if (IndexIntervalBytes < 1)
        {
            problems.Add($"IndexIntervalBytes must be positive; got {IndexIntervalBytes}");
        }

        if (TailCacheBytes < 0)
        {
            problems.Add($"TailCacheBytes must not be negative; got {TailCacheBytes}");
        }

        if (PageCacheWindowBytes < 0)
        {
            problems.Add($"PageCacheWindowBytes must not be negative; got {PageCacheWindowBytes}");
        }

        if (TailCacheRecords is < 0 or > 1_000_000)
        {
            problems.Add($"TailCacheRecords must be between 0 and 1000000; got {TailCacheRecords}");
        }

        if (RetentionCheckInterval <= TimeSpan.Zero)
        {
            problems.Add($"RetentionCheckInterval must be positive; got {RetentionCheckInterval}");
        }

        return problems;
    }
}
