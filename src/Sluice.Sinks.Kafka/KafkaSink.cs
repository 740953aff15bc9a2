using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Kafka;

/// <summary>
/// One idempotent producer (acks=all) per replicator, made at the first write and shared by its partitions. A batch is
/// produced record by record into librdkafka's queue and counts as written once every record's delivery report says
/// the cluster acknowledged it. Records keep key, value, headers and timestamp (create time = the publish time), plus
/// the header <c>sluice-idempotency-key</c> (<c>tenant/namespace/topic/partition/offset</c>).
/// <code>
///   every record delivered ──► written
///   message too large, invalid record or timestamp ──► refused (that record; those before it count as written)
///   anything else (timeouts, brokers down, unknown topic or partition, authorisation) ──► retry from the first not delivered
/// </code>
/// Kafka does not deduplicate across producer sessions: after a crash or a timed-out delivery, records may arrive twice,
/// recognisable by their idempotency key.
/// </summary>
internal sealed partial class KafkaSink(KafkaSinkSettings settings, ILogger logger) : IReplicationSink
{
    public const string IdempotencyHeader = "sluice-idempotency-key";

    private readonly Lock _gate = new();
    private IProducer<byte[]?, byte[]?>? _producer;
    private bool _disposed;

    /// <summary>The producer's settings: the user's pass-through ones, then the sink's own, which win.</summary>
    internal static ProducerConfig Config(string? bootstrap, KafkaPartitioning partitioning, IReadOnlyDictionary<string, string> config)
    {
        var c = new ProducerConfig
        {
            // A batch fails (and the status says retrying) after 30 s without acknowledgement instead of librdkafka's 300 s.
            MessageTimeoutMs = 30_000,

            // Java's partitioner, so keys land where Java producers put them.
            Partitioner = Partitioner.Murmur2Random,
        };
        foreach (var (name, value) in config)
        {
            c.Set(name, value);
        }

        if (bootstrap is not null)
        {
            c.BootstrapServers = bootstrap;
        }

        c.Acks = Acks.All;
        c.EnableIdempotence = true;
        c.AllowAutoCreateTopics ??= partitioning == KafkaPartitioning.Key;
        return c;
    }

    /// <summary>Lets librdkafka check the settings without connecting anywhere (no bootstrap servers): a problem, or null.</summary>
    internal static string? CheckConfig(string bootstrap, KafkaPartitioning partitioning, IReadOnlyDictionary<string, string> config)
    {
        try
        {
            using var producer = new ProducerBuilder<byte[]?, byte[]?>(Config(null, partitioning, config)).SetLogHandler((_, _) => { }).Build();
            return null;
        }
        catch (Exception ex) when (ex is ArgumentException or KafkaException or InvalidOperationException)
        {
            return "is refused by librdkafka: " + ex.Message;
        }
    }

    public async ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        IProducer<byte[]?, byte[]?> producer;
        try
        {
            producer = Producer();
        }
        catch (Exception ex) when (ex is KafkaException or ArgumentException or InvalidOperationException)
        {
            return SinkWriteResult.Retry("Kafka producer: " + ex.Message);
        }

        var records = batch.Records;
        var deliveries = new Deliveries(records.Count);
        var produced = 0;
        Error? refusedNow = null;
        for (; produced < records.Count && refusedNow is null; produced++)
        {
            var message = Message(records[produced]);
            var index = produced;
            while (true)
            {
                try
                {
                    if (settings.Partitioning == KafkaPartitioning.Source)
                    {
                        producer.Produce(new TopicPartition(batch.Target, new Partition(batch.Partition)), message, r => deliveries.Report(index, r.Error));
                    }
                    else
                    {
                        producer.Produce(batch.Target, message, r => deliveries.Report(index, r.Error));
                    }

                    break;
                }
                catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    // librdkafka's queue is full (queue.buffering.max.*): wait for deliveries to make room.
                    await Task.Delay(5, cancellationToken).ConfigureAwait(false);
                }
                catch (ProduceException<byte[]?, byte[]?> ex)
                {
                    // Refused before it was queued (too large, no such partition): nothing after it is produced.
                    deliveries.Report(index, ex.Error);
                    refusedNow = ex.Error;
                    break;
                }
            }
        }

        deliveries.Expect(produced);
        await deliveries.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        var (first, error) = deliveries.FirstFailure();
        if (error is null)
        {
            return SinkWriteResult.Written;
        }

        if (error.IsFatal)
        {
            Recreate(producer, error);
        }

        var text = Describe(error, batch);
        return Refuses(error.Code) ? SinkWriteResult.Refused(text, first, acknowledged: first) : SinkWriteResult.Retry(text, acknowledged: first);
    }

    public ValueTask DisposeAsync()
    {
        IProducer<byte[]?, byte[]?>? producer;
        lock (_gate)
        {
            _disposed = true;
            producer = _producer;
            _producer = null;
        }

        if (producer is not null)
        {
            // Every batch in flight has finished (the engine waits for them); this only closes connections and threads.
            producer.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    // The record can never go in as it is; every other error may heal (brokers back, a topic or partition created, ACLs).
    private static bool Refuses(ErrorCode code)
        => code is ErrorCode.MsgSizeTooLarge or ErrorCode.RecordListTooLarge
            or ErrorCode.InvalidRecord or ErrorCode.InvalidTimestamp or ErrorCode.InvalidMsgSize;

    private static string Describe(Error error, SinkBatch batch) => error.Code switch
    {
        ErrorCode.Local_UnknownPartition => $"Kafka: topic {batch.Target} has no partition {batch.Partition} (partitioning 'source' needs as many partitions as the source topic, or use 'key')",
        ErrorCode.Local_UnknownTopic or ErrorCode.UnknownTopicOrPart => $"Kafka: topic {batch.Target} does not exist ({error.Reason})",
        _ => $"Kafka {error.Code}: {error.Reason}",
    };

    private static Message<byte[]?, byte[]?> Message(SinkRecord record)
    {
        var headers = new Headers();
        foreach (var (name, value) in record.Headers)
        {
            headers.Add(name, Encoding.UTF8.GetBytes(value));
        }

        headers.Add(IdempotencyHeader, Encoding.UTF8.GetBytes(record.IdempotencyKey));
        return new Message<byte[]?, byte[]?>
        {
            // The records' own arrays: librdkafka copies them when the message is produced.
            Key = record.KeyArray(),
            Value = record.ValueArray(),
            Headers = headers,
            Timestamp = new Timestamp(record.PublishTime),
        };
    }

    private IProducer<byte[]?, byte[]?> Producer()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _producer ??= new ProducerBuilder<byte[]?, byte[]?>(Config(settings.Bootstrap, settings.Partitioning, settings.Config))
                .SetErrorHandler((_, e) => Log.ClientError(logger, e.Code.ToString(), e.Reason))
                .SetLogHandler((_, m) =>
                {
                    if (m.Level <= SyslogLevel.Warning)
                    {
                        Log.ClientLog(logger, m.Facility, m.Message);
                    }
                })
                .Build();
        }
    }

    // A fatal error (the idempotent producer lost its sequence) leaves the producer unusable: the next write makes another.
    private void Recreate(IProducer<byte[]?, byte[]?> failed, Error error)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_producer, failed))
            {
                return;
            }

            _producer = null;
        }

        Log.ProducerRecreated(logger, error.Code.ToString(), error.Reason);
        _ = Task.Run(failed.Dispose);
    }

    /// <summary>The delivery reports of one batch: completes once every produced record has one.</summary>
    private sealed class Deliveries(int count)
    {
        private readonly Error?[] _errors = new Error?[count];
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _reported;
        private int _expected = -1;

        public Task Completion => _done.Task;

        public void Report(int index, Error error)
        {
            _errors[index] = error.IsError ? error : null;
            if (Interlocked.Increment(ref _reported) == Volatile.Read(ref _expected))
            {
                _done.TrySetResult();
            }
        }

        /// <summary>Called once every record that will be reported was produced.</summary>
        public void Expect(int produced)
        {
            Volatile.Write(ref _expected, produced);
            if (Volatile.Read(ref _reported) == produced)
            {
                _done.TrySetResult();
            }
        }

        /// <summary>The first record, in batch order, that failed, and why; (count, null) when all were delivered.</summary>
        public (int Index, Error? Error) FirstFailure()
        {
            for (var i = 0; i < _errors.Length; i++)
            {
                if (_errors[i] is { } e)
                {
                    return (i, e);
                }
            }

            return (_errors.Length, null);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = KafkaSinkEventIds.ClientError, Level = LogLevel.Warning, Message = "kafka sink: client error {Code}: {Reason}")]
        public static partial void ClientError(ILogger logger, string code, string reason);

        [LoggerMessage(EventId = KafkaSinkEventIds.ClientLog, Level = LogLevel.Warning, Message = "kafka sink: librdkafka {Facility}: {Message}")]
        public static partial void ClientLog(ILogger logger, string facility, string message);

        [LoggerMessage(EventId = KafkaSinkEventIds.ProducerRecreated, Level = LogLevel.Warning,
            Message = "kafka sink: the producer failed fatally ({Code}: {Reason}); a new one is made for the next write")]
        public static partial void ProducerRecreated(ILogger logger, string code, string reason);
    }
}
