using Grpc.Net.Client;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Pixy;

/// <summary>A server with the gRPC listener on and Pixy's long poll shortened to 1 s, shared by a test class.</summary>
public sealed class PixyServer : IAsyncLifetime
{
    public ServerProcess Server { get; } = new(["--pixy-long-polling-timeout-ms", "1000"]) { WithGrpc = true };

    public HttpClient Client => Server.Client;

    public GrpcChannel Channel { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Server.StartAsync();
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Server.GrpcPort}");
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>A fresh Pixy topic name; plain names map to kafka/topics/NAME.</summary>
    public static string NewTopic(string prefix = "pixy") => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Kafka-Pixy's partition of a key (Sarama's FNV-1a hash partitioner), written from its definition.</summary>
    public static int PixyPartition(string key, int partitions)
    {
        var h = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(key))
        {
            h = unchecked((h ^ b) * 16777619u);
        }

        var p = unchecked((int)h) % partitions;
        return p < 0 ? -p : p;
    }
}
