using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Sluice.Kafka;

/// <summary>
/// Loads librdkafka for Confluent.Kafka (the copy the <c>librdkafka.redist</c> package ships beside the application)
/// and binds the mock-cluster C API, which Confluent.Kafka does not expose, to that same loaded library.
/// </summary>
/// <remarks>
/// The package ships several builds for linux-x64: <c>librdkafka.so</c> needs the RHEL name of Cyrus SASL
/// (<c>libsasl2.so.3</c>, absent on Debian), so Confluent.Kafka falls back to the self-contained
/// <c>centos8-librdkafka.so</c> there. Whichever it loaded, the P/Invokes below must reach the same copy: a second copy
/// in the process would be a second librdkafka with its own global state. The loaded file is read from
/// <c>/proc/self/maps</c>; elsewhere the same candidates are tried in Confluent.Kafka's order.
/// </remarks>
public static class KafkaNative
{
    private const string LibRdKafka = "librdkafka";
    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>Loads librdkafka once per process and binds the mock-cluster API to it. Safe to call many times.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded)
            {
                return;
            }

            Library.Load();
            var loaded = LoadedPath();
            NativeLibrary.SetDllImportResolver(typeof(KafkaNative).Assembly, (name, assembly, path) => name == LibRdKafka
                ? Resolve(loaded, assembly, path)
                : IntPtr.Zero);
            _loaded = true;
        }
    }

    /// <summary>librdkafka's version string (e.g. <c>2.16.0</c>).</summary>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return Library.VersionString;
        }
    }

    /// <summary>The file of the librdkafka the process has mapped, or null when that cannot be told.</summary>
    private static string? LoadedPath()
    {
        const string Maps = "/proc/self/maps";
        if (!File.Exists(Maps))
        {
            return null;
        }

        foreach (var line in File.ReadLines(Maps))
        {
            // "address perms offset dev inode   /path/to/file": the path is the last field and starts with '/'.
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && line.EndsWith("librdkafka.so", StringComparison.Ordinal) && File.Exists(line[slash..]))
            {
                return line[slash..];
            }
        }

        return null;
    }

    private static IntPtr Resolve(string? loaded, Assembly assembly, DllImportSearchPath? path)
    {
        if (loaded is not null && NativeLibrary.TryLoad(loaded, out var handle))
        {
            return handle;
        }

        // Confluent.Kafka's order on glibc Linux: the default build, then the self-contained CentOS 8 one.
        if (NativeLibrary.TryLoad(LibRdKafka, assembly, path, out handle))
        {
            return handle;
        }

        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", "centos8-librdkafka.so");
        return NativeLibrary.TryLoad(native, out handle) ? handle : IntPtr.Zero;
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
    internal static extern int rd_kafka_mock_topic_delete(IntPtr mcluster, string topic);

    [DllImport(LibRdKafka)]
    internal static extern int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [DllImport(LibRdKafka)]
    internal static extern int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [DllImport(LibRdKafka)]
    internal static extern IntPtr rd_kafka_err2str(int err);
}
