using Sluice.Core;
using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Kafka;
using Sluice.Server.Configuration;
using Sluice.Storage;

namespace Sluice.Server.Hosting;

/// <summary>
/// Composition of the backend: the embedded log (<see cref="EmbeddedLog"/>) or Kafka (<see cref="KafkaLog"/>, chosen by
/// <c>backend</c>), and the delivery engine over it (<c>AddSluiceCore</c>). The log is opened after the host is built (it logs through the host's logger factory)
/// and before it starts; the container owns it from then on and disposes it after the engine, which it created later.
/// </summary>
internal sealed class Backend
{
    /// <summary>Room for a key and headers beside a value of <c>maxMessageBytes</c>: the log limits whole records.</summary>
    internal const int RecordOverheadBytes = 64 * 1024;

    // Asking the engine anything loads its durable state; this name is never a client's (tenant "__" is reserved).
    private static readonly TopicName StartProbe = new("__sluice", "server", "start");

    private IMessageLog? _log;

    public IMessageLog Log => _log ?? throw new InvalidOperationException("the message log is not open yet");

    /// <summary>The Kafka cluster's bootstrap servers on the Kafka backend (the mock's in mock mode), otherwise null.</summary>
    public string? KafkaBootstrap => (_log as KafkaLog)?.BootstrapServers;

    public static void AddServices(IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton<Backend>();
        services.AddSingleton<IMessageLog>(sp => sp.GetRequiredService<Backend>().Log);
        if (options.IsKafka)
        {
            services.AddSluiceKafka(KafkaOptionsFor(options));
        }

        services.AddSluiceCore(o =>
        {
            o.ConsumerSessionTimeout = TimeSpan.FromMilliseconds(options.ConsumerSessionTimeoutMs);
            o.OnCorruptRecords = options.OnCorruptRecords;
        });
        services.AddSluiceDelays();
        services.AddHostedService<Sluice.Server.Delay.DelayHostedService>();
    }

    public static StorageOptions StorageOptionsFor(ServerOptions options) => new()
    {
        DataDirectory = options.DataDir,
        FlushPolicy = options.FlushPolicy switch
        {
            FlushPolicyOption.Interval => FlushPolicy.Interval,
            FlushPolicyOption.Never => FlushPolicy.Never,
            _ => FlushPolicy.Always,
        },
        FlushInterval = TimeSpan.FromMilliseconds(options.FlushIntervalMs),
        SegmentBytes = options.SegmentBytes,
        TailCacheBytes = options.TailCacheBytes,
        PageCacheWindowBytes = options.PageCacheWindowBytes,
        MaxRecordBytes = options.MaxMessageBytes + RecordOverheadBytes,
    };

    /// <summary>
    /// The settings of a configured Kafka cluster (the default one unless named). A cluster's own <c>mockBrokers</c> makes
    /// it a mock; otherwise <c>kafka:mockBrokers</c> makes every cluster one.
    /// </summary>
    public static KafkaLogOptions KafkaOptionsFor(ServerOptions options, string clusterName = "default")
    {
        var cluster = options.KafkaClusters.GetValueOrDefault(clusterName) ?? new KafkaClusterOption();
        return new KafkaLogOptions
        {
            BootstrapServers = cluster.Bootstrap,
            MockBrokers = cluster.MockBrokers > 0 ? cluster.MockBrokers : options.KafkaMockBrokers,
            ClientSettings = cluster.Settings,
            MaxRecordBytes = options.MaxMessageBytes + RecordOverheadBytes,
            SessionTimeoutMs = options.KafkaSessionTimeoutMs,
            GroupIdPrefix = options.KafkaGroupIdPrefix,
        };
    }

    /// <summary>Opens the log of the default cluster, or of the Kafka cluster <paramref name="clusterName"/>.</summary>
    public async ValueTask OpenAsync(ServerOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken, string clusterName = "default")
        => _log = options.IsKafka
            ? await KafkaLog.OpenAsync(KafkaOptionsFor(options, clusterName), loggerFactory, timeProvider, cancellationToken)
            : await EmbeddedLog.OpenAsync(StorageOptionsFor(options), loggerFactory, timeProvider, cancellationToken);

    /// <summary>Loads the engine's subscriptions and cursors, so the first request does not pay for it.</summary>
    public static async ValueTask StartEngineAsync(ISubscriptionService engine, CancellationToken cancellationToken)
        => await engine.ListAsync(StartProbe, cancellationToken);
}
