namespace Sluice.Server.Configuration;

/// <summary>
/// Every setting of the server. Bound from <c>sluice.json</c> / <c>sluice.yaml</c>, <c>SLUICE_*</c>
/// environment variables and flags by <see cref="ServerOptionsLoader"/>; the README lists them all.
/// </summary>
internal sealed class ServerOptions
{
    public const int DefaultPort = 8080;

    public int Port { get; set; } = DefaultPort;

    /// <summary>Loopback by default: authentication is off unless <c>auth:mode</c> is <c>jwt</c>.</summary>
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

    /// <summary>Embedded log: bytes of recently read records kept decoded for the next readers of the same partition end.</summary>
    public long TailCacheBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Embedded log: bytes at the end of each partition left in the page cache after an fsync; 0 leaves it to the kernel.</summary>
    public long PageCacheWindowBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Default time retention of new topics; 0 keeps forever.</summary>
    public long RetentionMs { get; set; } = 7L * 24 * 60 * 60 * 1000;

    /// <summary>Default size retention per partition of new topics; 0 keeps forever.</summary>
    public long RetentionBytes { get; set; }

    public int AckDeadlineMs { get; set; } = 30_000;

    /// <summary>A pull consumer that has not pulled for this long is detached (and no longer counted as connected).</summary>
    public int ConsumerSessionTimeoutMs { get; set; } = 30_000;

    /// <summary>What subscriptions do at records damaged on disk: skip them (recorded) or stop there until a seek.</summary>
    public Core.Subscriptions.CorruptRecordsPolicy OnCorruptRecords { get; set; } = Core.Subscriptions.CorruptRecordsPolicy.Skip;

    public int ShutdownTimeoutMs { get; set; } = 30_000;

    /// <summary>
    /// Kestrel sends what a handler flushed on the handler's own thread, and runs a request's handler on the thread that
    /// received it, instead of queueing each to the thread pool (Kestrel's <c>UnsafePreferInlineScheduling</c>). Socket
    /// completions still come from the pool. Every handler of the gateway awaits its waits; none blocks its thread.
    /// Measured in design note 0047.
    /// </summary>
    public bool InlineIo { get; set; } = true;

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

    // ---- authentication and authorisation (Security/) ----

    public Security.AuthMode AuthMode { get; set; } = Security.AuthMode.None;

    // ---- browsers: CORS and host names ----

    /// <summary>Comma-separated origins whose pages may call the API (CORS), or <c>*</c>; empty: CORS off.</summary>
    public string CorsAllowedOrigins { get; set; } = "";

    public bool CorsAllowCredentials { get; set; }

    /// <summary>Comma-separated response headers pages may read beyond the CORS-safelisted ones.</summary>
    public string CorsExposedHeaders { get; set; } = "";

    /// <summary>10 min: how long a browser may keep a preflight's answer.</summary>
    public int CorsMaxAgeSeconds { get; set; } = 600;

    /// <summary>Comma-separated host names served (<c>*.example.com</c>, <c>*</c>); empty: the loopback names while auth is off on a loopback bind, else any.</summary>
    public string AllowedHosts { get; set; } = "";

    /// <summary>HS256 key file: the raw key bytes (Pulsar's token tool), or base64 text when <see cref="JwtSecretBase64"/>.</summary>
    public string? JwtSecretFile { get; set; }

    public bool JwtSecretBase64 { get; set; }

    /// <summary>PEM public key (or certificate) for RS256 or ES256.</summary>
    public string? JwtPublicKeyFile { get; set; }

    /// <summary>A JSON Web Key Set file (RSA, P-256 EC and oct keys, each with a kid).</summary>
    public string? JwksFile { get; set; }

    /// <summary>A JSON Web Key Set URL (an identity provider's <c>jwks_uri</c>): https, or http on loopback only.</summary>
    public string? JwksUrl { get; set; }

    /// <summary>1 h: how often the JWKS URL is fetched again; providers announce new keys well ahead.</summary>
    public int JwksRefreshMs { get; set; } = 3_600_000;

    /// <summary>30 s: a token naming an unknown key id fetches the key set again, but not more often than this.</summary>
    public int JwksMinRefreshIntervalMs { get; set; } = 30_000;

    public string? JwtIssuer { get; set; }

    public string? JwtAudience { get; set; }

    /// <summary>The claim that names the caller's role(s): a string or an array of strings. Pulsar uses <c>sub</c>.</summary>
    public string JwtRoleClaim { get; set; } = "sub";

    /// <summary>60 s: tolerates ordinary clock drift between the token issuer and this server.</summary>
    public int JwtClockSkewMs { get; set; } = 60_000;

    /// <summary>Comma-separated roles that may do everything.</summary>
    public string SuperuserRoles { get; set; } = "";

    /// <summary>A token whose role equals a tenant's name may produce, consume and administer that tenant (Pulsar Beam's rule).</summary>
    public bool TenantFromSubject { get; set; }

    /// <summary>Role to grants, each grant <c>tenant[/namespace]=produce,consume,admin</c>, grants separated by <c>;</c>.</summary>
    public Dictionary<string, string> AuthRoles { get; set; } = new(StringComparer.Ordinal);

    // ---- limits and quotas (0: no limit) ----

    public int TenantRequestsPerSecond { get; set; }

    public long TenantBytesPerSecond { get; set; }

    public int TopicsPerTenant { get; set; }

    public int SubscriptionsPerTenant { get; set; }

    public int WebhooksPerTenant { get; set; }

    // ---- TLS ----

    public string? TlsCertFile { get; set; }

    public string? TlsKeyFile { get; set; }

    /// <summary>When set, clients must present a certificate issued by one of these CAs (PEM).</summary>
    public string? TlsClientCaFile { get; set; }

    // ---- backend ----

    /// <summary>Port of the gRPC listener (h2c, or TLS with the server's certificate); 0 turns it off. Kafka-Pixy's default.</summary>
    public int GrpcPort { get; set; } = 19_091;

    /// <summary>A second port serving only Kafka-Pixy's REST routes (Pixy's own is 19092); 0: the main port only.</summary>
    public int PixyPort { get; set; }

    /// <summary>Whether <paramref name="port"/> is the gRPC listener's: never while it is off (0, which no listener binds).</summary>
    public bool IsGrpcPort(int port) => GrpcPort != 0 && port == GrpcPort;

    /// <summary>Whether <paramref name="port"/> is the Kafka-Pixy REST listener's: never while it is off.</summary>
    public bool IsPixyPort(int port) => PixyPort != 0 && port == PixyPort;

    /// <summary>How long a Kafka-Pixy consume waits for a message before "long polling timeout".</summary>
    public int PixyLongPollingTimeoutMs { get; set; } = 3_000;

    /// <summary>Ack deadline of the subscriptions Kafka-Pixy groups create (Pixy's <c>ack_timeout</c>, 5 min).</summary>
    public int PixyAckTimeoutMs { get; set; } = 300_000;

    /// <summary>Redeliveries of an unacked message to a Kafka-Pixy group before it is dead-lettered; -1 for ever.</summary>
    public int PixyMaxRetries { get; set; } = -1;

    /// <summary><c>embedded</c> (the local log in <see cref="DataDir"/>) or <c>kafka</c>.</summary>
    public string Backend { get; set; } = "embedded";

    /// <summary>When above 0 on the Kafka backend, this process hosts librdkafka's mock cluster with this many brokers.</summary>
    public int KafkaMockBrokers { get; set; }

    /// <summary>Kafka consumer-group session timeout of the gateway's subscription memberships.</summary>
    public int KafkaSessionTimeoutMs { get; set; } = 10_000;

    public string KafkaGroupIdPrefix { get; set; } = "sluice.";

    /// <summary>Named Kafka clusters (case-insensitive names): bootstrap servers and librdkafka settings passed through (values never logged).</summary>
    public Dictionary<string, KafkaClusterOption> KafkaClusters { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    // ---- compatibility APIs (Compat/) ----

    /// <summary>Serve Pulsar Beam's routes (<c>/v1/firehose</c>, <c>/v2/...</c>, <c>/status</c>) on the main port.</summary>
    public bool BeamEnabled { get; set; } = true;

    /// <summary>Beam's <c>PulsarClusters</c>: comma-separated Pulsar URLs a <c>PulsarUrl</c> header may name; empty accepts any.</summary>
    public string BeamClusters { get; set; } = "";

    /// <summary>Serve kateway's routes under <see cref="KatewayPrefix"/> (and on its own ports when set).</summary>
    public bool KatewayEnabled { get; set; } = true;

    public string KatewayPrefix { get; set; } = "/kateway";

    /// <summary>kateway's pub, sub and admin ports (kateway used 9191, 9192, 9193); 0 serves them on the main port only.</summary>
    public int KatewayPubPort { get; set; }

    public int KatewaySubPort { get; set; }

    public int KatewayManPort { get; set; }

    /// <summary>kateway's long poll: a sub request that finds nothing answers 204 after this long (kateway's 30 s).</summary>
    public int KatewaySubTimeoutMs { get; set; } = 30_000;

    /// <summary>kateway app ids to their secrets (the Pubkey/Subkey headers); empty is kateway's open mode. Never logged.</summary>
    public Dictionary<string, string> KatewayApps { get; set; } = new(StringComparer.Ordinal);

    public bool IsKafka => string.Equals(Backend, "kafka", StringComparison.Ordinal);

    /// <summary>What this instance does: <c>http</c> (serves the API), <c>workers</c> (runs replicators and webhooks), or both.</summary>
    public HashSet<string> Roles { get; set; } = new(StringComparer.Ordinal) { "http", "workers" };

    public bool ServesHttp => Roles.Contains("http");

    public bool RunsWorkers => Roles.Contains("workers");

    // ---- metrics and traces (docs/design/0020) ----

    /// <summary>Labels of per-subscription series: <c>subscription</c> (topic and subscription), <c>topic</c> (summed per topic) or <c>none</c>.</summary>
    public string MetricsLabels { get; set; } = "subscription";

    /// <summary>Most label sets one per-topic or per-subscription instrument reports; the rest are summed into one <c>_other</c> series.</summary>
    public int MetricsMaxSeries { get; set; } = 1000;

    /// <summary><c>/metrics</c> without a token even when authentication is on.</summary>
    public bool MetricsPublic { get; set; }

    /// <summary>Comma-separated roles that may scrape <c>/metrics</c> (superusers always may).</summary>
    public string MetricsRoles { get; set; } = "";

    /// <summary>OTLP collector address (traces and metrics); none: no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>http/protobuf</c> or <c>grpc</c>.</summary>
    public string OtlpProtocol { get; set; } = "http/protobuf";

    public string OtlpServiceName { get; set; } = "sluice";

    /// <summary>How often metrics are pushed over OTLP.</summary>
    public int OtlpExportIntervalMs { get; set; } = 15_000;

    /// <summary>Fraction of traces started here that are recorded (a sampled parent is always followed).</summary>
    public double OtlpSampleRatio { get; set; } = 1.0;

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
        target.TailCacheBytes = TailCacheBytes;
        target.PageCacheWindowBytes = PageCacheWindowBytes;
        target.RetentionMs = RetentionMs;
        target.RetentionBytes = RetentionBytes;
        target.AckDeadlineMs = AckDeadlineMs;
        target.ConsumerSessionTimeoutMs = ConsumerSessionTimeoutMs;
        target.OnCorruptRecords = OnCorruptRecords;
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
        target.AuthMode = AuthMode;
        target.CorsAllowedOrigins = CorsAllowedOrigins;
        target.CorsAllowCredentials = CorsAllowCredentials;
        target.CorsExposedHeaders = CorsExposedHeaders;
        target.CorsMaxAgeSeconds = CorsMaxAgeSeconds;
        target.AllowedHosts = AllowedHosts;
        target.JwtSecretFile = JwtSecretFile;
        target.JwtSecretBase64 = JwtSecretBase64;
        target.JwtPublicKeyFile = JwtPublicKeyFile;
        target.JwksFile = JwksFile;
        target.JwksUrl = JwksUrl;
        target.JwksRefreshMs = JwksRefreshMs;
        target.JwksMinRefreshIntervalMs = JwksMinRefreshIntervalMs;
        target.JwtIssuer = JwtIssuer;
        target.JwtAudience = JwtAudience;
        target.JwtRoleClaim = JwtRoleClaim;
        target.JwtClockSkewMs = JwtClockSkewMs;
        target.SuperuserRoles = SuperuserRoles;
        target.TenantFromSubject = TenantFromSubject;
        target.AuthRoles = new Dictionary<string, string>(AuthRoles, StringComparer.Ordinal);
        target.TenantRequestsPerSecond = TenantRequestsPerSecond;
        target.TenantBytesPerSecond = TenantBytesPerSecond;
        target.TopicsPerTenant = TopicsPerTenant;
        target.SubscriptionsPerTenant = SubscriptionsPerTenant;
        target.WebhooksPerTenant = WebhooksPerTenant;
        target.TlsCertFile = TlsCertFile;
        target.TlsKeyFile = TlsKeyFile;
        target.TlsClientCaFile = TlsClientCaFile;
        target.GrpcPort = GrpcPort;
        target.PixyPort = PixyPort;
        target.PixyLongPollingTimeoutMs = PixyLongPollingTimeoutMs;
        target.PixyAckTimeoutMs = PixyAckTimeoutMs;
        target.PixyMaxRetries = PixyMaxRetries;
        target.Backend = Backend;
        target.KafkaMockBrokers = KafkaMockBrokers;
        target.KafkaSessionTimeoutMs = KafkaSessionTimeoutMs;
        target.KafkaGroupIdPrefix = KafkaGroupIdPrefix;
        target.KafkaClusters = new(KafkaClusters, StringComparer.OrdinalIgnoreCase);
        target.Roles = new(Roles, StringComparer.Ordinal);
        target.BeamEnabled = BeamEnabled;
        target.BeamClusters = BeamClusters;
        target.KatewayEnabled = KatewayEnabled;
        target.KatewayPrefix = KatewayPrefix;
        target.KatewayPubPort = KatewayPubPort;
        target.KatewaySubPort = KatewaySubPort;
        target.KatewayManPort = KatewayManPort;
        target.KatewaySubTimeoutMs = KatewaySubTimeoutMs;
        target.KatewayApps = new Dictionary<string, string>(KatewayApps, StringComparer.Ordinal);
        target.MetricsLabels = MetricsLabels;
        target.MetricsMaxSeries = MetricsMaxSeries;
        target.MetricsPublic = MetricsPublic;
        target.MetricsRoles = MetricsRoles;
        target.OtlpEndpoint = OtlpEndpoint;
        target.OtlpProtocol = OtlpProtocol;
        target.OtlpServiceName = OtlpServiceName;
        target.OtlpExportIntervalMs = OtlpExportIntervalMs;
        target.OtlpSampleRatio = OtlpSampleRatio;
    }

    /// <summary>
    /// The cluster of this name, created empty on first use. Names are case-insensitive, as the routes that carry them
    /// are: environment variables are often written in capitals (SLUICE_KAFKA__CLUSTERS__EAST__... is the file's
    /// <c>east</c>), and <c>default</c> in any case is the default cluster.
    /// </summary>
    public KafkaClusterOption Cluster(string name)
    {
        name = string.Equals(name, "default", StringComparison.OrdinalIgnoreCase) ? "default" : name;
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

    /// <summary>When above 0, this cluster is librdkafka's mock hosted in this process with this many brokers (tests).</summary>
    public int MockBrokers { get; set; }

    /// <summary>librdkafka settings (<c>security.protocol</c>, <c>sasl.password</c>, ...), passed through as given.</summary>
    public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);
}
