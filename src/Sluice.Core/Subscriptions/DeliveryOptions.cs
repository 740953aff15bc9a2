namespace Sluice.Core.Subscriptions;

/// <summary>
/// Tuning of the delivery engine. Bound through <c>IOptions&lt;DeliveryOptions&gt;</c> and validated at start.
/// Properties have setters (not <c>init</c>) so <c>AddSluiceCore(o =&gt; ...)</c> and configuration binding can set them.
/// </summary>
public sealed record DeliveryOptions
{
    /// <summary>
    /// How long a consumer stays registered (holds exclusivity, failover activity and its key_shared keys)
    /// after it was last attached or last received. A pull consumer is detached after every request, so this
    /// is what keeps one client's identity between pulls. On expiry its unacked messages are redelivered at once.
    /// </summary>
    public TimeSpan ConsumerSessionTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most messages read ahead from the log and held per subscription partition before any consumer takes them.
    /// 256: small enough for thousands of subscriptions. A receive that asks for more than is buffered reads toward it from
    /// the log first, inline (about <see cref="ReadAheadBytes"/>), rather than being answered with what is held.
    /// </summary>
    public int ReadAheadMessages { get; set; } = 256;

    /// <summary>About how many bytes one read-ahead fetch asks the log for (at least one record is always returned).</summary>
    public int ReadAheadBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Most delivered-but-unacked messages (in flight, or waiting for redelivery) per subscription partition. When
    /// reached, the engine stops reading new messages of that partition until some are acked: it bounds memory and
    /// the size of the acked-range set kept above the committed offset.
    /// </summary>
    public int MaxUnackedPerPartition { get; set; } = 10_000;

    /// <summary>Most cursor records written in one append to the cursor state topic (acks arriving meanwhile wait for the next).</summary>
    public int CursorFlushBatchSize { get; set; } = 1024;

    /// <summary>
    /// Longest a cursor advanced by an ack nobody waits on (a streaming consumer's auto-ack) stays in memory before it is
    /// written. Such acks of many subscriptions share one cursor append per period instead of one per write to a client;
    /// a crash within the period delivers those messages again. A graceful shutdown writes every cursor.
    /// </summary>
    public TimeSpan CursorLinger { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// What a subscription does at records the log reports damaged: skip them (recording exactly which offsets were lost)
    /// and deliver what follows, or stop that partition there until a seek.
    /// </summary>
    public CorruptRecordsPolicy OnCorruptRecords { get; set; } = CorruptRecordsPolicy.Skip;

    /// <summary>Returns a reason when a value is out of range, otherwise null.</summary>
    public string? Validate()
    {
        if (ConsumerSessionTimeout < TimeSpan.FromSeconds(1) || ConsumerSessionTimeout > TimeSpan.FromHours(24))
        {
            return $"consumer session timeout must be between 1 s and 24 h; got {ConsumerSessionTimeout}";
        }

        if (ReadAheadMessages is < 1 or > 100_000)
        {
            return $"read-ahead messages must be between 1 and 100000; got {ReadAheadMessages}";
        }

        if (ReadAheadBytes is < 1024 or > 256 * 1024 * 1024)
        {
            return $"read-ahead bytes must be between 1024 and 268435456; got {ReadAheadBytes}";
        }

        if (MaxUnackedPerPartition is < 1 or > 1_000_000)
        {
            return $"max unacked per partition must be between 1 and 1000000; got {MaxUnackedPerPartition}";
        }

        if (CursorLinger < TimeSpan.Zero || CursorLinger > TimeSpan.FromMinutes(1))
        {
            return $"cursor linger must be between 0 and 1 minute; got {CursorLinger}";
        }

        if (CursorFlushBatchSize is < 1 or > 100_000)
        {
            return $"cursor flush batch size must be between 1 and 100000; got {CursorFlushBatchSize}";
        }

        if (!Enum.IsDefined(OnCorruptRecords))
        {
            return $"on corrupt records must be Skip or Stop; got {(int)OnCorruptRecords}";
        }

        return null;
    }
}
