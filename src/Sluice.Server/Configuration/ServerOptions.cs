namespace Sluice.Server.Configuration;

/// <summary>
/// Every setting of the server. Bound from <c>sluice.json</c> / <c>sluice.yaml</c>, <c>SLUICE_*</c>
/// environment variables and flags by <see cref="ServerOptionsLoader"/>; the README lists them all.
/// </summary>
internal sealed class ServerOptions
{
    public const int DefaultPort = 8080;

    public int Port { get; set; } = DefaultPort;

    /// <summary>Loopback by default: the server has no authentication yet.</summary>
    public string Bind { get; set; } = "127.0.0.1";

    public string DataDir { get; set; } = "./data";

    public FlushPolicyOption FlushPolicy { get; set; } = FlushPolicyOption.Always;

    public int FlushIntervalMs { get; set; } = 50;

    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    public int MaxBatchBytes { get; set; } = 16 * 1024 * 1024;

    public bool AutoCreateTopics { get; set; } = true;

    /// <summary>4: enough for a few shared consumers to pull in parallel, cheap on one disk.</summary>
    public int DefaultPartitions { get; set; } = 4;

    public long SegmentBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>Default time retention of new topics; 0 keeps forever.</summary>
    public long RetentionMs { get; set; } = 7L * 24 * 60 * 60 * 1000;

    /// <summary>Default size retention per partition of new topics; 0 keeps forever.</summary>
    public long RetentionBytes { get; set; }

    public int AckDeadlineMs { get; set; } = 30_000;

    /// <summary>A pull consumer that has not pulled for this long is detached (and no longer counted as connected).</summary>
    public int ConsumerSessionTimeoutMs { get; set; } = 30_000;

    public int ShutdownTimeoutMs { get; set; } = 30_000;

    // ---- streaming (SSE, WebSocket) ----

    /// <summary>15 s: under the 30-60 s idle timeouts common in proxies and load balancers.</summary>
    public int SseKeepAliveMs { get; set; } = 15_000;

    /// <summary>A stream whose send buffer stays full this long is closed and its unacked messages released.</summary>
    public int SlowConsumerTimeoutMs { get; set; } = 10_000;

    public int MaxStreamsPerSubscription { get; set; } = 1_000;

    /// <summary>10,000: Kestrel's connection limit here (SluiceServer).</summary>
    public int MaxStreams { get; set; } = 10_000;

    /// <summary>Webhooks may call loopback, private, link-local and metadata addresses (local use and tests only).</summary>
    public bool AllowPrivateWebhooks { get; set; }

    /// <summary>Comma-separated networks (CIDR) webhooks may call although the SSRF guard would refuse them.</summary>
    public string WebhookAllowedNetworks { get; set; } = "";

    public int WebhookBreakerFailures { get; set; } = 5;

    public int WebhookBreakerCooldownMs { get; set; } = 5_000;

    public int WebhookBreakerMaxCooldownMs { get; set; } = 120_000;

    // ---- backend ----

    /// <summary><c>embedded</c> (the local log in <see cref="DataDir"/>) or <c>kafka</c>.</summary>
    public string Backend { get; set; } = "embedded";

    /// <summary>When above 0 on the Kafka backend, this process hosts librdkafka's mock cluster with this many brokers.</summary>
    public int KafkaMockBrokers { get; set; }

    /// <summary>Kafka consumer-group session timeout of the gateway's subscription memberships.</summary>
    public int KafkaSessionTimeoutMs { get; set; } = 10_000;

    public string KafkaGroupIdPrefix { get; set; } = "sluice.";

    /// <summary>Named Kafka clusters: bootstrap servers and librdkafka settings passed through (values never logged).</summary>
    public Dictionary<string, KafkaClusterOption> KafkaClusters { get; set; } = new(StringComparer.Ordinal);

    public bool IsKafka => string.Equals(Backend, "kafka", StringComparison.Ordinal);

    public void CopyTo(ServerOptions target)
    {
        target.Port = Port;
        target.Bind = Bind;
        target.DataDir = DataDir;
        target.FlushPolicy = FlushPolicy;
        target.FlushIntervalMs = FlushIntervalMs;
        target.MaxMessageBytes = MaxMessageBytes;
        target.MaxBatchBytes = MaxBatchBytes;
        target.AutoCreateTopics = AutoCreateTopics;
        target.DefaultPartitions = DefaultPartitions;
        target.SegmentBytes = SegmentBytes;
        target.RetentionMs = RetentionMs;
        target.RetentionBytes = RetentionBytes;
        target.AckDeadlineMs = AckDeadlineMs;
        target.ConsumerSessionTimeoutMs = ConsumerSessionTimeoutMs;
        target.ShutdownTimeoutMs = ShutdownTimeoutMs;
        target.SseKeepAliveMs = SseKeepAliveMs;
        target.SlowConsumerTimeoutMs = SlowConsumerTimeoutMs;
        target.MaxStreamsPerSubscription = MaxStreamsPerSubscription;
        target.MaxStreams = MaxStreams;
        target.AllowPrivateWebhooks = AllowPrivateWebhooks;
        target.WebhookAllowedNetworks = WebhookAllowedNetworks;
        target.WebhookBreakerFailures = WebhookBreakerFailures;
        target.WebhookBreakerCooldownMs = WebhookBreakerCooldownMs;
        target.WebhookBreakerMaxCooldownMs = WebhookBreakerMaxCooldownMs;
        target.Backend = Backend;
        target.KafkaMockBrokers = KafkaMockBrokers;
        target.KafkaSessionTimeoutMs = KafkaSessionTimeoutMs;
        target.KafkaGroupIdPrefix = KafkaGroupIdPrefix;
        target.KafkaClusters = new(KafkaClusters, StringComparer.Ordinal);
    }

    /// <summary>The cluster of this name, created empty on first use.</summary>
    public KafkaClusterOption Cluster(string name)
    {
        if (!KafkaClusters.TryGetValue(name, out var cluster))
        {
            KafkaClusters[name] = cluster = new KafkaClusterOption();
        }

        return cluster;
    }
}

/// <summary>One Kafka cluster of the options file (<c>kafka:clusters:&lt;name&gt;</c>).</summary>
internal sealed class KafkaClusterOption
{
    public string Bootstrap { get; set; } = "";

    /// <summary>librdkafka settings (<c>security.protocol</c>, <c>sasl.password</c>, ...), passed through as given.</summary>
    public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);
}
