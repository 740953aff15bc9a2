using Confluent.Kafka;

namespace Sluice.Kafka;

/// <summary>Builds the configuration of every client the backend opens: user settings first, then what Sluice requires.</summary>
internal static class KafkaClients
{
    /// <summary>Settings Sluice decides; a user value for one of these is ignored.</summary>
    public static ClientConfig Base(KafkaLogOptions options, string bootstrapServers)
    {
        var config = new ClientConfig(new Dictionary<string, string>(options.ClientSettings))
        {
            BootstrapServers = bootstrapServers,
            // librdkafka logs a line for every idle connection the broker closes; that is normal, not news.
            LogConnectionClose = false,
        };
        // Nothing is ever created by accident: topics exist only through CreateTopicAsync or the cluster's operators.
        config.Set("allow.auto.create.topics", "false");
        return config;
    }

    public static ProducerConfig Producer(KafkaLogOptions options, string bootstrapServers) => new(Base(options, bootstrapServers))
    {
        Acks = Acks.All,
        EnableIdempotence = true,
        // Room for the largest record Sluice accepts plus the batch framing.
        MessageMaxBytes = Math.Max(1_000_000, options.MaxRecordBytes + 64 * 1024),
        // 1M messages / 1 GiB: a burst waits in librdkafka's queue rather than failing the append.
        QueueBufferingMaxMessages = 1_000_000,
        QueueBufferingMaxKbytes = 1024 * 1024,
        EnableDeliveryReports = true,
        // Only offsets and errors are used: copying keys and values back into every report cost throughput.
        DeliveryReportFields = "none",
    };

    public static ConsumerConfig Reader(KafkaLogOptions options, string bootstrapServers) => new(Base(options, bootstrapServers))
    {
        // Assign-mode only: never joins or commits to this group.
        GroupId = options.GroupIdPrefix + "reader",
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        EnablePartitionEof = true,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        FetchMaxBytes = Math.Max(1_000_000, options.MaxRecordBytes + 64 * 1024) * 4,
        MaxPartitionFetchBytes = Math.Max(1_000_000, options.MaxRecordBytes + 64 * 1024),
        // 4 MiB prefetch per reader: readers are pooled, so this bounds their memory.
        QueuedMaxMessagesKbytes = 4096,
        FetchErrorBackoffMs = 50,

        // A read never waits for records beyond the high watermark (WaitForDataAsync does that), so a fetch has no reason
        // to wait at the broker; a long one would hold up the next read of a reader moved elsewhere (one fetch in flight
        // per broker connection): with the default 500 ms, a read after a reassignment took 0.5 to 1 s.
        FetchWaitMaxMs = 10,
    };
}
