using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Sluice.Kafka;

/// <summary>
/// Loads the machine's librdkafka (Debian <c>librdkafka1</c>, 2.0.2) for Confluent.Kafka, which looks for
/// <c>libdl</c> and <c>librdkafka</c> by names that do not exist on Debian, and exposes the mock-cluster C API.
/// </summary>
public static class KafkaNative
{
    private const string LibRdKafka = "librdkafka.so.1";
    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>Maps the library names and loads librdkafka once per process. Safe to call many times.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded)
            {
                return;
            }

            NativeLibrary.SetDllImportResolver(typeof(Library).Assembly, (name, _, _) => name switch
            {
                "libdl" => NativeLibrary.Load("libdl.so.2"),
                "librdkafka" => NativeLibrary.Load(LibRdKafka),
                _ => IntPtr.Zero,
            });
            Library.Load(LibRdKafka);
            _loaded = true;
        }
    }

    /// <summary>librdkafka's version string (e.g. <c>2.0.2</c>).</summary>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return Library.VersionString;
        }
    }

    [DllImport(LibRdKafka)]
    internal static extern IntPtr rd_kafka_conf_new();

    [DllImport(LibRdKafka)]
    internal static extern int rd_kafka_conf_set(IntPtr conf, string name, string value, IntPtr errstr, UIntPtr errstrSize);

    [DllImport(LibRdKafka)]
    internal static extern IntPtr rd_kafka_new(int type, IntPtr conf, IntPtr errstr, UIntPtr errstrSize);

    [DllImport(LibRdKafka)]
    internal static extern void rd_kafka_destroy(IntPtr rk);

    [DllImport(LibRdKafka)]
    internal static extern IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokers);

    [DllImport(LibRdKafka)]
    internal static extern void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    [DllImport(LibRdKafka)]
    internal static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [DllImport(LibRdKafka)]
    internal static extern int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [DllImport(LibRdKafka)]
    internal static extern IntPtr rd_kafka_err2str(int err);
}
