namespace Sluice.Core.Replication;

/// <summary>
/// One replicator's connection to its target system, made by <see cref="ReplicationSinkType.CreateSink"/>. Called
/// concurrently for different partitions (and, with ordering <c>none</c>, for batches of one partition), so it must be
/// thread-safe. Disposed when the replicator stops or its settings change.
/// </summary>
public interface IReplicationSink : IAsyncDisposable
{
    /// <summary>
    /// Writes one batch (records of one source partition, in offset order) and completes once the target has acknowledged
    /// it durably (a committed transaction, a 2xx, publisher confirms, acks=all). Return
    /// <see cref="SinkWriteResult.Written"/> only then. A transient problem is <see cref="SinkWriteResult.Retry"/> (or an
    /// exception: the engine treats one as transient); a record the target refuses for good is
    /// <see cref="SinkWriteResult.Refused"/>. Use <see cref="SinkRecord.IdempotencyKey"/> wherever the target can
    /// deduplicate: after a crash a batch may be written again.
    /// </summary>
    ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken);
}
