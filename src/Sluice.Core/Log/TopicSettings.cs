namespace Sluice.Core.Log;

/// <summary>Settings of one topic. Null retention values mean "keep forever" on that axis.</summary>
public sealed record TopicSettings
{
    /// <summary>Number of partitions, 1..<see cref="MaxPartitions"/>.</summary>
    public int Partitions { get; init; } = 1;

    /// <summary>Whole segments whose newest record is older than this are deleted.</summary>
    public TimeSpan? RetentionTime { get; init; }

    /// <summary>Oldest whole segments are deleted while a partition holds more than this many bytes.</summary>
    public long? RetentionBytes { get; init; }

    /// <summary>Keep only the newest record per key (a record with a null value is a tombstone).</summary>
    public bool Compacted { get; init; }

    public const int MaxPartitions = 1024;

    /// <summary>Returns a reason when a value is out of range, otherwise null.</summary>
    public string? Validate()
    {
        if (Partitions is < 1 or > MaxPartitions)
        {
            return $"partitions must be between 1 and {MaxPartitions}; got {Partitions}";
        }

        if (RetentionTime is { } t && t <= TimeSpan.Zero)
        {
            return $"retention time must be positive; got {t}";
        }

        if (RetentionBytes is { } b && b <= 0)
        {
            return $"retention bytes must be positive; got {b}";
        }

        return null;
    }
}
