using System.Runtime.InteropServices;

namespace Sluice.Kafka;

/// <summary>
/// librdkafka's in-memory mock cluster: a real Kafka protocol implementation on loopback TCP ports, hosted by this
/// process for as long as this object lives (one <c>rd_kafka_t</c> handle keeps it). It implements produce, fetch,
/// list-offsets (without a time search), metadata, consumer groups and idempotence, but no admin API: topics are created
/// and deleted through its C API, and there is no way to add partitions.
/// </summary>
public sealed class KafkaMockCluster : IDisposable
{
    private readonly Lock _gate = new();
    private IntPtr _handle;
    private IntPtr _cluster;

    private KafkaMockCluster(IntPtr handle, IntPtr cluster, string bootstrapServers)
    {
        _handle = handle;
        _cluster = cluster;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>The brokers' <c>host:port</c> list, for any Kafka client.</summary>
    public string BootstrapServers { get; }

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers.</summary>
    public static KafkaMockCluster Start(int brokers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        KafkaNative.EnsureLoaded();
        var conf = KafkaNative.rd_kafka_conf_new();
        // The hosting handle only carries the cluster: keep its own logging quiet.
        _ = KafkaNative.rd_kafka_conf_set(conf, "log_level", "3", IntPtr.Zero, UIntPtr.Zero);
        var handle = KafkaNative.rd_kafka_new(0 /* RD_KAFKA_PRODUCER */, conf, IntPtr.Zero, UIntPtr.Zero);
        if (handle == IntPtr.Zero)
        {
            throw new InvalidOperationException("librdkafka could not create the handle that hosts the mock cluster");
        }

        var cluster = KafkaNative.rd_kafka_mock_cluster_new(handle, brokers);
        if (cluster == IntPtr.Zero)
        {
            KafkaNative.rd_kafka_destroy(handle);
            throw new InvalidOperationException("librdkafka could not start the mock cluster");
        }

        var bootstraps = Marshal.PtrToStringAnsi(KafkaNative.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("the mock cluster has no bootstrap servers");
        return new KafkaMockCluster(handle, cluster, bootstraps);
    }

    /// <summary>Creates a topic (replication factor 1). Throws when the cluster refuses, e.g. because it exists.</summary>
    public void CreateTopic(string name, int partitions)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            var err = KafkaNative.rd_kafka_mock_topic_create(_cluster, name, partitions, 1);
            if (err != 0)
            {
                throw new InvalidOperationException(
                    $"the mock cluster refused to create topic '{name}': {Marshal.PtrToStringAnsi(KafkaNative.rd_kafka_err2str(err))}");
            }
        }
    }

    /// <summary>Deletes a topic and its data (librdkafka 2.10 and later). Throws when the cluster refuses, e.g. because it does not exist.</summary>
    public void DeleteTopic(string name)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            var err = KafkaNative.rd_kafka_mock_topic_delete(_cluster, name);
            if (err != 0)
            {
                throw new InvalidOperationException(
                    $"the mock cluster refused to delete topic '{name}': {Marshal.PtrToStringAnsi(KafkaNative.rd_kafka_err2str(err))}");
            }
        }
    }

    /// <summary>
    /// Takes broker <paramref name="brokerId"/> (1 to the broker count) down, cutting its connections and refusing new
    /// ones, or brings it back up; its partitions keep their data. For outage tests of clients of the cluster.
    /// </summary>
    public void SetBrokerUp(int brokerId, bool up)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            var err = up ? KafkaNative.rd_kafka_mock_broker_set_up(_cluster, brokerId) : KafkaNative.rd_kafka_mock_broker_set_down(_cluster, brokerId);
            if (err != 0)
            {
                throw new InvalidOperationException($"the mock cluster refused to take broker {brokerId} {(up ? "up" : "down")}: {Marshal.PtrToStringAnsi(KafkaNative.rd_kafka_err2str(err))}");
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster == IntPtr.Zero)
            {
                return;
            }

            KafkaNative.rd_kafka_mock_cluster_destroy(_cluster);
            KafkaNative.rd_kafka_destroy(_handle);
            _cluster = IntPtr.Zero;
            _handle = IntPtr.Zero;
        }
    }
}
