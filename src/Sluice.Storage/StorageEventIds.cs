namespace Sluice.Storage;

/// <summary>Every log event id of Sluice.Storage, in one table so none is reused. Only ever add.</summary>
internal static class StorageEventIds
{
    public const int LogOpened = 1000;
    public const int TopicCreated = 1001;
    public const int TopicDeleted = 1002;
    public const int TopicUpdated = 1003;
    public const int TopicDirectorySkipped = 1004;
    public const int CleanupFailed = 1005;
    public const int PartitionOpened = 1010;
    public const int TornTailTruncated = 1011;
    public const int IndexRebuilt = 1012;
    public const int CorruptBatch = 1013;
    public const int SegmentRolled = 1014;
    public const int SegmentDeleted = 1015;
    public const int SegmentCompacted = 1016;
    public const int WriteFailed = 1017;
    public const int MaintenanceFailed = 1018;
    public const int FlushFailed = 1019;

    // Faults: damaged records, offsets kept after recovery, a full disk.
    public const int CorruptRangeFound = 1020;
    public const int OffsetsResumedAfterLoss = 1021;
    public const int StorageFull = 1022;
    public const int StorageRecovered = 1023;
    public const int IndexWriteFailed = 1024;
    public const int CorruptRegistryUnreadable = 1025;
    public const int CorruptRegistryWriteFailed = 1026;
    public const int HighWaterMarkMissing = 1027;
    public const int CloseFailed = 1028;
    public const int CompactionSkipped = 1029;
    public const int SegmentTrimmed = 1030;
}
