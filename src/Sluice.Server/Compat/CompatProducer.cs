using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Server.Diagnostics;
using Sluice.Server.Produce;
using Sluice.Server.Topics;

namespace Sluice.Server.Compat;

/// <summary>
/// Produce for the compatibility APIs: the same path as Sluice's own <c>POST .../messages</c> (topic created on first use
/// when <c>topics:autoCreate</c>, Kafka's murmur2 for keys, runs of keyless messages per partition, durable before the
/// answer unless asynchronous), so a message published through any API is the same record.
/// </summary>
internal sealed class CompatProducer(IMessageLog log, IDelayService delays, TopicDirectory directory, Partitioner partitioner, SluiceMetrics metrics, PendingAppends pending, ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("Sluice.Server.Produce");

    /// <summary>Appends one record and completes once it is durable.</summary>
    public async ValueTask<(int Partition, AppendResult Result)> AppendAsync(TopicName topic, RecordToAppend record, CancellationToken cancellationToken)
    {
        var partition = await ChooseAsync(topic, record, cancellationToken);

        // Once the append has started, finish it even if the client leaves: it may already be written.
        var result = await ProduceEndpoints.AppendAsync(log, directory, topic, partition, [record], CancellationToken.None);
        metrics.Produced.Add(topic, 1);
        return (partition, result);
    }

    /// <summary>Starts the append and returns its partition at once; a failure is logged (the client was already answered).</summary>
    public async ValueTask<int> AppendInBackgroundAsync(TopicName topic, RecordToAppend record, CancellationToken cancellationToken)
    {
        var partition = await ChooseAsync(topic, record, cancellationToken);
        pending.Enter();
        _ = ProduceEndpoints.AppendInBackgroundAsync(log, directory, topic, partition, [record], metrics, pending, _logger);
        return partition;
    }

    /// <summary>
    /// Holds one record for delivery at <paramref name="deliverAt"/> (Sluice's delayed messages: the partition it will be
    /// delivered to is chosen now, as for a produce) and completes once it is durable, with the id that cancels it.
    /// </summary>
    public async ValueTask<(int Partition, string Id)> AppendDelayedAsync(TopicName topic, RecordToAppend record, DateTimeOffset deliverAt, CancellationToken cancellationToken)
    {
        var partition = await ChooseAsync(topic, record, cancellationToken);

        // As an append: once started, finish it even if the client leaves.
        var result = await ProduceEndpoints.AppendDelayedAsync(delays, directory, topic, partition, [new DelayedRecord(record, deliverAt)], CancellationToken.None);
        return (partition, result.Ids[0]);
    }

    private async ValueTask<int> ChooseAsync(TopicName topic, RecordToAppend record, CancellationToken cancellationToken)
    {
        var partitions = await directory.GetPartitionCountAsync(topic, create: true, cancellationToken);
        return partitioner.Choose(record.Key is { } key ? key.Span : default, record.Key.HasValue, partitions);
    }
}
