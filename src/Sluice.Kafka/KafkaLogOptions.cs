namespace Sluice.Kafka;

/// <summary>Settings of the Kafka backend (one cluster).</summary>
public sealed record KafkaLogOptions
{
    /// <summary>The cluster's <c>host:port,...</c>; ignored (taken from the mock) when <see cref="MockBrokers"/> is set.</summary>
    public string BootstrapServers { get; init; } = "";

    /// <summary>When above 0, this process hosts librdkafka's mock cluster with this many brokers and uses it.</summary>
    public int MockBrokers { get; init; }

    /// <summary>librdkafka client settings passed through to every client (TLS, SASL, ...). Values are never logged.</summary>
    public IReadOnlyDictionary<string, string> ClientSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Largest record (key + value + headers) an append accepts.</summary>
    public int MaxRecordBytes { get; init; } = 1024 * 1024 + 64 * 1024;

    /// <summary>Replication factor of topics created on a real cluster.</summary>
    public short ReplicationFactor { get; init; } = -1;

    /// <summary>
    /// How often end offsets are polled while someone waits for data that another gateway (or any Kafka client)
    /// produces. Appends through this gateway wake waiters at once. 100 ms: the added tail latency for foreign
    /// produces, at one ListOffsets per waited partition per interval.
    /// </summary>
    public TimeSpan WaitPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Most pooled readers (each is a librdkafka consumer with its own threads).</summary>
    public int MaxReaders { get; init; } = 8;

    /// <summary>A pooled reader unused this long is closed.</summary>
    public TimeSpan ReaderIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of metadata, admin and offset requests.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long opening waits for the cluster to answer metadata.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Group ids of subscriptions start with this.</summary>
    public string GroupIdPrefix { get; init; } = "sluice.";

    /// <summary>Kafka consumer group session timeout of subscription members.</summary>
    public int SessionTimeoutMs { get; init; } = 10_000;

    /// <summary>Returns every problem with these settings (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MockBrokers is < 0 or > 16)
        {
            problems.Add($"mock brokers must be between 0 and 16; got {MockBrokers}");
        }

        if (MockBrokers == 0 && string.IsNullOrWhiteSpace(BootstrapServers))
        {
            problems.Add("the Kafka backend needs bootstrap servers (kafka:clusters:default:bootstrap or --kafka-bootstrap) or a mock cluster (--kafka-mock-brokers)");
        }

        if (SessionTimeoutMs is < 1000 or > 3_600_000)
        {
            problems.Add($"session timeout must be between 1000 and 3600000 ms; got {SessionTimeoutMs}");
        }

        return problems;
    }
}
