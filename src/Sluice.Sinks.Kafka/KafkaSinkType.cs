using System.Globalization;
using Sluice.Core.Replication;

[assembly: ReplicationSink(typeof(Sluice.Sinks.Kafka.KafkaSinkType))]

namespace Sluice.Sinks.Kafka;

/// <summary>
/// <c>"type": "kafka"</c>: every record to a topic of another Kafka cluster with an idempotent producer and acks=all,
/// key, value (tombstones included), headers and timestamp kept, the record's idempotency key added as the header
/// <c>sluice-idempotency-key</c>. librdkafka settings from an allow-list pass through in <c>config</c>.
/// </summary>
public sealed class KafkaSinkType : ReplicationSinkType
{
    /// <summary>
    /// librdkafka producer settings a replicator may set. Not the ones the sink owns (bootstrap.servers, acks,
    /// enable.idempotence, transactions), nor any that reads files, runs commands, loads libraries or calls URLs on the
    /// gateway's host (ssl.*.location, sasl.kerberos.*, plugin.library.paths, sasl.oauthbearer.*): certificates go in as PEM.
    /// </summary>
    internal static readonly HashSet<string> Passed = new(StringComparer.Ordinal)
    {
        "client.id", "client.rack", "security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
        "ssl.ca.pem", "ssl.certificate.pem", "ssl.key.pem", "ssl.key.password", "ssl.endpoint.identification.algorithm",
        "enable.ssl.certificate.verification", "ssl.cipher.suites", "ssl.curves.list", "ssl.sigalgs.list",
        "compression.type", "compression.codec", "compression.level", "linger.ms", "queue.buffering.max.ms", "batch.num.messages",
        "batch.size", "message.max.bytes", "message.timeout.ms", "delivery.timeout.ms", "request.timeout.ms", "socket.timeout.ms",
        "socket.connection.setup.timeout.ms", "socket.keepalive.enable", "socket.nagle.disable", "retry.backoff.ms",
        "retry.backoff.max.ms", "reconnect.backoff.ms", "reconnect.backoff.max.ms", "max.in.flight", "max.in.flight.requests.per.connection",
        "partitioner", "sticky.partitioning.linger.ms", "topic.metadata.refresh.interval.ms", "metadata.max.age.ms",
        "connections.max.idle.ms", "broker.address.family", "client.dns.lookup", "allow.auto.create.topics",
        "queue.buffering.max.messages", "queue.buffering.max.kbytes",
    };

    public override string Name => "kafka";

    public override string TargetField => "topic";

    public override object ReadSettings(SinkSettings settings)
    {
        var bootstrap = settings.RequiredString("bootstrap");
        var brokers = new List<(string, int)>();
        foreach (var entry in bootstrap.Split(',', StringSplitOptions.TrimEntries))
        {
            var colon = entry.LastIndexOf(':');
            var port = 0;
            if (colon <= 0 || !int.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535
                || Uri.CheckHostName(entry[..colon].Trim('[', ']')) == UriHostNameType.Unknown)
            {
                SinkSettings.Fail("bootstrap", "must be a comma-separated list of host:port (such as kafka1:9092,kafka2:9092)");
            }

            brokers.Add((entry[..colon], port));
        }

        var partitioning = settings.OneOf("partitioning", "source", "key") == "key" ? KafkaPartitioning.Key : KafkaPartitioning.Source;
        var config = settings.StringMap("config", 64) ?? new Dictionary<string, string>();
        foreach (var (name, value) in config)
        {
            if (!Passed.Contains(name))
            {
                SinkSettings.Fail("config", $"'{name}' is not a librdkafka setting the kafka sink passes through (bootstrap, acks and idempotence are the sink's; file, command, plugin and URL settings are refused; see the documentation for the list)");
            }

            if (value.Length > 65536 || value.Contains('\0', StringComparison.Ordinal))
            {
                SinkSettings.Fail($"config.{name}", "must be at most 65536 characters without NUL");
            }
        }

        // librdkafka checks names and values itself (ranges, enums): a client built now refuses bad ones before anything is stored.
        if (KafkaSink.CheckConfig(bootstrap, partitioning, config) is { } problem)
        {
            SinkSettings.Fail("config", problem);
        }

        return new KafkaSinkSettings(bootstrap, brokers, partitioning, config);
    }

    public override async ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
    {
        // Kafka's own rule for topic names.
        if (target.Length > 249 || target is "." or ".." || !target.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            return $"'{target}' is not a Kafka topic name (1 to 249 letters, digits, '.', '_' and '-')";
        }

        // The bootstrap brokers are checked by the gateway's SSRF guard (the brokers the cluster names in its metadata are
        // librdkafka's to connect to, and are not).
        var policy = context.Services.GetService(typeof(IOutboundAddressPolicy)) as IOutboundAddressPolicy
            ?? throw new InvalidOperationException("the gateway registers no IOutboundAddressPolicy: the kafka sink will not call unchecked addresses");
        foreach (var (host, port) in ((KafkaSinkSettings)settings).Brokers)
        {
            if (await policy.CheckUrlAsync(new Uri($"http://{host}:{port}/"), cancellationToken).ConfigureAwait(false) is { } refused)
            {
                return "bootstrap: " + refused.Replace("url host", "broker", StringComparison.Ordinal);
            }
        }

        return null;
    }

    public override IReplicationSink CreateSink(object settings, SinkContext context) => new KafkaSink((KafkaSinkSettings)settings, context.Logger);
}
