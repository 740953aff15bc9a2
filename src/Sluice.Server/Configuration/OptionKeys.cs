namespace Sluice.Server.Configuration;

/// <summary>
/// The one table of settings: configuration key (file; environment variable is <c>SLUICE_</c> + key with
/// <c>:</c> written <c>__</c>), command-line flag, and how to parse and apply a value. The README mirrors it.
/// </summary>
internal static class OptionKeys
{
    public sealed record Option(string Key, string Flag, string Expected, Func<string, ServerOptions, bool> Apply);

    public static readonly IReadOnlyList<Option> All =
    [
        new("port", "--port", "an integer between 1 and 65535", (v, o) => Int(v, 1, 65535, x => o.Port = x)),
        new("bind", "--bind", "an IP address such as 127.0.0.1, 0.0.0.0 or ::", (v, o) =>
        {
            if (!System.Net.IPAddress.TryParse(v, out _))
            {
                return false;
            }

            o.Bind = v;
            return true;
        }),
        new("dataDir", "--data-dir", "a directory path", (v, o) =>
        {
            if (string.IsNullOrWhiteSpace(v) || v.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            {
                return false;
            }

            o.DataDir = v;
            return true;
        }),
        new("flush:policy", "--flush-policy", "one of always, interval, never", (v, o) =>
        {
            switch (v.Trim().ToLowerInvariant())
            {
                case "always": o.FlushPolicy = FlushPolicyOption.Always; return true;
                case "interval": o.FlushPolicy = FlushPolicyOption.Interval; return true;
                case "never": o.FlushPolicy = FlushPolicyOption.Never; return true;
                default: return false;
            }
        }),
        new("flush:intervalMs", "--flush-interval-ms", "an integer between 1 and 60000", (v, o) => Int(v, 1, 60_000, x => o.FlushIntervalMs = x)),
        new("maxMessageBytes", "--max-message-bytes", "an integer between 1 and 67108864 (64 MiB)", (v, o) => Int(v, 1, 64 * 1024 * 1024, x => o.MaxMessageBytes = x)),
        new("maxBatchBytes", "--max-batch-bytes", "an integer between 1024 and 268435456 (256 MiB)", (v, o) => Int(v, 1024, 256 * 1024 * 1024, x => o.MaxBatchBytes = x)),
        new("topics:autoCreate", "--auto-create-topics", "true or false", (v, o) => Bool(v, x => o.AutoCreateTopics = x)),
        new("topics:defaultPartitions", "--default-partitions", "an integer between 1 and 1024", (v, o) => Int(v, 1, Core.Log.TopicSettings.MaxPartitions, x => o.DefaultPartitions = x)),
        new("topics:segmentBytes", "--segment-bytes", "an integer between 1048576 (1 MiB) and 1073741824 (1 GiB)", (v, o) => Long(v, 1024 * 1024, Storage.StorageOptions.MaxSegmentBytes, x => o.SegmentBytes = x)),
        new("topics:tailCacheBytes", "--tail-cache-bytes", "an integer between 0 (off) and 68719476736 (64 GiB)", (v, o) => Long(v, 0, 64L * 1024 * 1024 * 1024, x => o.TailCacheBytes = x)),
        new("topics:pageCacheWindowBytes", "--page-cache-window-bytes", "an integer between 0 (leave the page cache to the kernel) and 68719476736 (64 GiB)", (v, o) => Long(v, 0, 64L * 1024 * 1024 * 1024, x => o.PageCacheWindowBytes = x)),
        new("topics:retentionMs", "--retention-ms", "an integer >= 0 (0 keeps forever)", (v, o) => Long(v, 0, long.MaxValue / 10_000, x => o.RetentionMs = x)),
        new("topics:retentionBytes", "--retention-bytes", "an integer >= 0 (0 keeps forever)", (v, o) => Long(v, 0, long.MaxValue, x => o.RetentionBytes = x)),
        new("subscriptions:ackDeadlineMs", "--ack-deadline-ms", "an integer between 100 and 43200000 (12 h)", (v, o) => Int(v, 100, 43_200_000, x => o.AckDeadlineMs = x)),
        new("subscriptions:consumerSessionTimeoutMs", "--consumer-session-timeout-ms", "an integer between 1000 and 3600000 (1 h)", (v, o) => Int(v, 1000, 3_600_000, x => o.ConsumerSessionTimeoutMs = x)),
        new("subscriptions:onCorruptRecords", "--on-corrupt-records", "one of skip, stop", (v, o) =>
        {
            switch (v.Trim().ToLowerInvariant())
            {
                case "skip": o.OnCorruptRecords = Core.Subscriptions.CorruptRecordsPolicy.Skip; return true;
                case "stop": o.OnCorruptRecords = Core.Subscriptions.CorruptRecordsPolicy.Stop; return true;
                default: return false;
            }
        }),
        new("shutdownTimeoutMs", "--shutdown-timeout-ms", "an integer between 0 and 600000", (v, o) => Int(v, 0, 600_000, x => o.ShutdownTimeoutMs = x)),
        new("streaming:sseKeepAliveMs", "--sse-keep-alive-ms", "an integer between 100 and 300000 (5 min)", (v, o) => Int(v, 100, 300_000, x => o.SseKeepAliveMs = x)),
        new("streaming:slowConsumerTimeoutMs", "--slow-consumer-timeout-ms", "an integer between 100 and 600000 (10 min)", (v, o) => Int(v, 100, 600_000, x => o.SlowConsumerTimeoutMs = x)),
        new("streaming:maxStreamsPerSubscription", "--max-streams-per-subscription", "an integer between 1 and 100000", (v, o) => Int(v, 1, 100_000, x => o.MaxStreamsPerSubscription = x)),
        new("streaming:maxStreams", "--max-streams", "an integer between 1 and 100000", (v, o) => Int(v, 1, 100_000, x => o.MaxStreams = x)),
        new("inlineIo", "--inline-io", "true or false", (v, o) => Bool(v, x => o.InlineIo = x)),

        // Webhooks. --allow-private-webhooks may stand alone (a switch): see ServerOptionsLoader.
        new("webhooks:allowPrivate", "--allow-private-webhooks", "true or false", (v, o) => Bool(v, x => o.AllowPrivateWebhooks = x)),
        new("webhooks:allowedNetworks", "--webhook-allowed-networks", "comma-separated networks such as 10.1.0.0/16,fd00::/8", (v, o) =>
        {
            try
            {
                _ = Webhooks.SsrfGuard.ParseNetworks(v);
            }
            catch (FormatException)
            {
                return false;
            }

            o.WebhookAllowedNetworks = v;
            return true;
        }),
        new("webhooks:breakerFailures", "--webhook-breaker-failures", "an integer between 1 and 1000", (v, o) => Int(v, 1, 1000, x => o.WebhookBreakerFailures = x)),
        new("webhooks:breakerCooldownMs", "--webhook-breaker-cooldown-ms", "an integer between 10 and 3600000", (v, o) => Int(v, 10, 3_600_000, x => o.WebhookBreakerCooldownMs = x)),
        new("webhooks:breakerMaxCooldownMs", "--webhook-breaker-max-cooldown-ms", "an integer between 10 and 86400000", (v, o) => Int(v, 10, 86_400_000, x => o.WebhookBreakerMaxCooldownMs = x)),

        // Authentication and authorisation (Security/). Roles to grants: auth:roles:<role>, read by ServerOptionsLoader.
        new("auth:mode", "--auth", "one of none, jwt", (v, o) =>
        {
            switch (v.Trim().ToLowerInvariant())
            {
                case "none": o.AuthMode = Security.AuthMode.None; return true;
                case "jwt": o.AuthMode = Security.AuthMode.Jwt; return true;
                default: return false;
            }
        }),
        new("cors:allowedOrigins", "--cors-allowed-origins", "comma-separated origins such as https://app.example.com, or *", (v, o) => Text(v, x => o.CorsAllowedOrigins = x)),
        new("cors:allowCredentials", "--cors-allow-credentials", "true or false", (v, o) => Bool(v, x => o.CorsAllowCredentials = x)),
        new("cors:exposedHeaders", "--cors-exposed-headers", "comma-separated header names", (v, o) => Text(v, x => o.CorsExposedHeaders = x)),
        new("cors:maxAgeSeconds", "--cors-max-age-seconds", "an integer between 0 and 86400", (v, o) => Int(v, 0, 86_400, x => o.CorsMaxAgeSeconds = x)),
        new("allowedHosts", "--allowed-hosts", "comma-separated host names such as gateway.example.com, *.example.com, or *", (v, o) => Text(v, x => o.AllowedHosts = x)),
        new("auth:jwtSecretFile", "--jwt-secret-file", "an existing file holding the HS256 key", (v, o) => ExistingFile(v, x => o.JwtSecretFile = x)),
        new("auth:jwtSecretBase64", "--jwt-secret-base64", "true or false", (v, o) => Bool(v, x => o.JwtSecretBase64 = x)),
        new("auth:jwtPublicKeyFile", "--jwt-public-key-file", "an existing PEM file with an RSA or P-256 public key", (v, o) => ExistingFile(v, x => o.JwtPublicKeyFile = x)),
        new("auth:jwksFile", "--jwks-file", "an existing JSON Web Key Set file", (v, o) => ExistingFile(v, x => o.JwksFile = x)),
        new("auth:jwksUrl", "--jwks-url", "an https URL of a JSON Web Key Set (http only on loopback)", (v, o) => Text(v, x => o.JwksUrl = x)),
        new("auth:jwksRefreshMs", "--jwks-refresh-ms", "an integer between 1000 and 86400000", (v, o) => Int(v, 1000, 86_400_000, x => o.JwksRefreshMs = x)),
        new("auth:jwksMinRefreshIntervalMs", "--jwks-min-refresh-interval-ms", "an integer between 0 and 3600000", (v, o) => Int(v, 0, 3_600_000, x => o.JwksMinRefreshIntervalMs = x)),
        new("auth:issuer", "--jwt-issuer", "the expected iss claim", (v, o) => Text(v, x => o.JwtIssuer = x)),
        new("auth:audience", "--jwt-audience", "the expected aud claim", (v, o) => Text(v, x => o.JwtAudience = x)),
        new("auth:roleClaim", "--jwt-role-claim", "a claim name such as sub", (v, o) => Text(v, x => o.JwtRoleClaim = x)),
        new("auth:clockSkewMs", "--jwt-clock-skew-ms", "an integer between 0 and 600000", (v, o) => Int(v, 0, 600_000, x => o.JwtClockSkewMs = x)),
        new("auth:superuserRole", "--superuser-role", "a role name, or several separated by commas", (v, o) => Text(v, x => o.SuperuserRoles = x)),
        new("auth:tenantFromSubject", "--tenant-from-subject", "true or false", (v, o) => Bool(v, x => o.TenantFromSubject = x)),

        // Limits and quotas per tenant; 0 means none.
        new("limits:tenantRequestsPerSecond", "--tenant-requests-per-second", "an integer between 0 and 10000000 (0: no limit)", (v, o) => Int(v, 0, 10_000_000, x => o.TenantRequestsPerSecond = x)),
        new("limits:tenantBytesPerSecond", "--tenant-bytes-per-second", "an integer between 0 and 1099511627776 (0: no limit)", (v, o) => Long(v, 0, 1L << 40, x => o.TenantBytesPerSecond = x)),
        new("quotas:topicsPerTenant", "--topics-per-tenant", "an integer between 0 and 1000000 (0: no quota)", (v, o) => Int(v, 0, 1_000_000, x => o.TopicsPerTenant = x)),
        new("quotas:subscriptionsPerTenant", "--subscriptions-per-tenant", "an integer between 0 and 1000000 (0: no quota)", (v, o) => Int(v, 0, 1_000_000, x => o.SubscriptionsPerTenant = x)),
        new("quotas:webhooksPerTenant", "--webhooks-per-tenant", "an integer between 0 and 1000000 (0: no quota)", (v, o) => Int(v, 0, 1_000_000, x => o.WebhooksPerTenant = x)),

        // gRPC listener (Kafka-Pixy's service and Sluice's own) and Kafka-Pixy compatibility.
        new("grpc:port", "--grpc-port", "an integer between 0 and 65535 (0: no gRPC listener)", (v, o) => Int(v, 0, 65535, x => o.GrpcPort = x)),
        new("pixy:port", "--pixy-port", "an integer between 0 and 65535 (0: Pixy's REST routes on the main port only)", (v, o) => Int(v, 0, 65535, x => o.PixyPort = x)),
        new("pixy:longPollingTimeoutMs", "--pixy-long-polling-timeout-ms", "an integer between 100 and 60000", (v, o) => Int(v, 100, 60_000, x => o.PixyLongPollingTimeoutMs = x)),
        new("pixy:ackTimeoutMs", "--pixy-ack-timeout-ms", "an integer between 100 and 43200000", (v, o) => Int(v, 100, 43_200_000, x => o.PixyAckTimeoutMs = x)),
        new("pixy:maxRetries", "--pixy-max-retries", "an integer between -1 and 999 (-1: retry for ever)", (v, o) => Int(v, -1, 999, x => o.PixyMaxRetries = x)),

        // TLS on the listener.
        new("tls:certFile", "--tls-cert-file", "an existing PEM certificate file", (v, o) => ExistingFile(v, x => o.TlsCertFile = x)),
        new("tls:keyFile", "--tls-key-file", "an existing PEM private key file", (v, o) => ExistingFile(v, x => o.TlsKeyFile = x)),
        new("tls:clientCaFile", "--tls-client-ca-file", "an existing PEM file of CA certificates", (v, o) => ExistingFile(v, x => o.TlsClientCaFile = x)),

        // Backend. Further clusters and librdkafka settings: kafka:clusters:<name>:bootstrap / :settings:<key> (ServerOptionsLoader).
        new("backend", "--backend", "one of embedded, kafka", (v, o) =>
        {
            var b = v.Trim().ToLowerInvariant();
            if (b is not ("embedded" or "kafka"))
            {
                return false;
            }

            o.Backend = b;
            return true;
        }),
        new("kafka:clusters:default:bootstrap", "--kafka-bootstrap", "a comma-separated list of host:port", (v, o) =>
        {
            if (!IsBootstrapList(v))
            {
                return false;
            }

            o.Cluster("default").Bootstrap = v.Trim();
            return true;
        }),
        // Metrics (/metrics) and OpenTelemetry export (docs/design/0020).
        new("metrics:labels", "--metrics-labels", "one of subscription, topic, none", (v, o) =>
        {
            var labels = v.Trim().ToLowerInvariant();
            if (labels is not ("subscription" or "topic" or "none"))
            {
                return false;
            }

            o.MetricsLabels = labels;
            return true;
        }),
        new("metrics:maxSeries", "--metrics-max-series", "an integer between 1 and 100000", (v, o) => Int(v, 1, 100_000, x => o.MetricsMaxSeries = x)),
        new("metrics:public", "--metrics-public", "true or false", (v, o) => Bool(v, x => o.MetricsPublic = x)),
        new("metrics:roles", "--metrics-roles", "comma-separated role names", (v, o) => Text(v, x => o.MetricsRoles = x)),
        new("otlp:endpoint", "--otlp-endpoint", "an http or https URL such as http://127.0.0.1:4318", (v, o) =>
        {
            if (!Uri.TryCreate(v.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo))
            {
                return false;
            }

            o.OtlpEndpoint = uri.ToString().TrimEnd('/');
            return true;
        }),
        new("otlp:protocol", "--otlp-protocol", "one of http/protobuf, grpc", (v, o) =>
        {
            var protocol = v.Trim().ToLowerInvariant();
            if (protocol is not ("http/protobuf" or "grpc"))
            {
                return false;
            }

            o.OtlpProtocol = protocol;
            return true;
        }),
        new("otlp:serviceName", "--otlp-service-name", "a service name (at most 1000 characters)", (v, o) => Text(v, x => o.OtlpServiceName = x)),
        new("otlp:exportIntervalMs", "--otlp-export-interval-ms", "an integer between 100 and 3600000", (v, o) => Int(v, 100, 3_600_000, x => o.OtlpExportIntervalMs = x)),
        new("otlp:sampleRatio", "--otlp-sample-ratio", "a number between 0 and 1", (v, o) =>
        {
            if (!double.TryParse(v.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ratio) || ratio is < 0 or > 1)
            {
                return false;
            }

            o.OtlpSampleRatio = ratio;
            return true;
        }),
        new("kafka:mockBrokers", "--kafka-mock-brokers", "an integer between 0 and 16 (0: no mock cluster)", (v, o) => Int(v, 0, 16, x => o.KafkaMockBrokers = x)),
        new("kafka:sessionTimeoutMs", "--kafka-session-timeout-ms", "an integer between 1000 and 3600000", (v, o) => Int(v, 1000, 3_600_000, x => o.KafkaSessionTimeoutMs = x)),
        new("kafka:groupIdPrefix", "--kafka-group-id-prefix", "letters, digits, '.', '_' and '-' (at most 100)", (v, o) =>
        {
            if (v.Length > 100 || !v.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }

            o.KafkaGroupIdPrefix = v;
            return true;
        }),

        // Roles of this instance. A YAML or JSON list (roles: [http, workers]) is joined by ServerOptionsLoader.
        new("roles", "--roles", "http, workers, or both separated by commas", (v, o) =>
        {
            var roles = v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(r => r.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
            if (roles.Count == 0 || roles.Any(r => r is not ("http" or "workers")))
            {
                return false;
            }

            o.Roles = roles;
            return true;
        }),

        // Compatibility APIs (Compat/). kateway app secrets: kateway:apps:<appid>, read by ServerOptionsLoader.
        new("beam:enabled", "--beam", "true or false", (v, o) => Bool(v, x => o.BeamEnabled = x)),
        new("beam:clusters", "--beam-clusters", "comma-separated Pulsar URLs such as pulsar+ssl://pulsar.example.com:6651", (v, o) =>
        {
            var urls = Compat.Beam.BeamAccess.ParseClusters(v);
            if (urls.Length == 0 || !urls.All(Compat.Beam.BeamNames.IsClusterUrl))
            {
                return false;
            }

            o.BeamClusters = string.Join(',', urls);
            return true;
        }),
        new("kateway:enabled", "--kateway", "true or false", (v, o) => Bool(v, x => o.KatewayEnabled = x)),
        new("kateway:prefix", "--kateway-prefix", "a path such as /kateway (a '/' and 1 to 64 letters, digits, '-' or '_')", (v, o) =>
        {
            var p = v.Trim();
            if (p.Length is < 2 or > 65 || p[0] != '/' || !p[1..].All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || p is "/v1" or "/v2" or "/openapi")
            {
                return false;
            }

            o.KatewayPrefix = p;
            return true;
        }),
        new("kateway:pubPort", "--kateway-pub-port", "an integer between 0 (off) and 65535", (v, o) => Int(v, 0, 65535, x => o.KatewayPubPort = x)),
        new("kateway:subPort", "--kateway-sub-port", "an integer between 0 (off) and 65535", (v, o) => Int(v, 0, 65535, x => o.KatewaySubPort = x)),
        new("kateway:manPort", "--kateway-man-port", "an integer between 0 (off) and 65535", (v, o) => Int(v, 0, 65535, x => o.KatewayManPort = x)),
        new("kateway:subTimeoutMs", "--kateway-sub-timeout-ms", "an integer between 100 and 600000", (v, o) => Int(v, 100, 600_000, x => o.KatewaySubTimeoutMs = x)),
    ];

    private static bool Bool(string value, Action<bool> set)
    {
        if (!bool.TryParse(value.Trim(), out var b))
        {
            return false;
        }

        set(b);
        return true;
    }

    private static bool Text(string value, Action<string> set)
    {
        var trimmed = value.Trim();
        if (trimmed.Length is 0 or > 1000 || trimmed.Any(char.IsControl))
        {
            return false;
        }

        set(trimmed);
        return true;
    }

    private static bool ExistingFile(string value, Action<string> set)
    {
        if (string.IsNullOrWhiteSpace(value) || value.IndexOfAny(Path.GetInvalidPathChars()) >= 0 || !File.Exists(value))
        {
            return false;
        }

        set(Path.GetFullPath(value));
        return true;
    }

    /// <summary>
    /// <c>kafka:clusters:&lt;name&gt;:bootstrap</c>, <c>kafka:clusters:&lt;name&gt;:mockBrokers</c> or
    /// <c>kafka:clusters:&lt;name&gt;:settings:&lt;librdkafka key&gt;</c>. Names are URL path segments (<c>/v1/clusters/&lt;name&gt;</c>).
    /// </summary>
    public static readonly System.Text.RegularExpressions.Regex ClusterKey = new(
        "^kafka:clusters:(?<name>[A-Za-z0-9_-]{1,64}):(?:(?<bootstrap>bootstrap)|(?<mock>mockBrokers)|settings:(?<setting>[a-z0-9._]{1,100}))$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    public static bool IsBootstrapList(string value)
    {
        var items = value.Split(',', StringSplitOptions.TrimEntries);
        return items.Length > 0 && items.All(i =>
        {
            var colon = i.LastIndexOf(':');
            return colon > 0 && int.TryParse(i[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
                && port is > 0 and <= 65535 && i[..colon].All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '[' or ']' or ':');
        });
    }

    private static bool Int(string value, int min, int max, Action<int> set)
    {
        if (!int.TryParse(value.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var x) || x < min || x > max)
        {
            return false;
        }

        set(x);
        return true;
    }

    private static bool Long(string value, long min, long max, Action<long> set)
    {
        if (!long.TryParse(value.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var x) || x < min || x > max)
        {
            return false;
        }

        set(x);
        return true;
    }
}
