namespace Sluice.Storage;

/// <summary>When appended bytes are forced to disk, and so when an append is acknowledged.</summary>
public enum FlushPolicy
{
    /// <summary>Every append is acknowledged after an fsync; concurrent appends share one fsync (group commit).</summary>
    Always = 0,

    /// <summary>Appends are acknowledged after the write; an fsync runs every <see cref="StorageOptions.FlushInterval"/>.</summary>
    Interval = 1,

    /// <summary>Appends are acknowledged after the write; the operating system decides when to write back.</summary>
    Never = 2,
}
