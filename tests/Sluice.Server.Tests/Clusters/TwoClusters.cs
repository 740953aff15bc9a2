using Grpc.Net.Client;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Clusters;

/// <summary>
/// A Kafka gateway serving two clusters, <c>default</c> and <c>east</c>, each librdkafka's mock cluster hosted in the
/// process (<c>kafka:mockBrokers</c> makes every configured cluster its own mock), with the gRPC listener on, loopback
/// webhooks allowed and Pixy's long poll shortened to 1 s. <see cref="East"/> is a client of east's routes.
/// </summary>
public sealed class TwoClusters : IAsyncLifetime
{
    public ServerProcess Server { get; } = new(["--backend", "kafka", "--kafka-mock-brokers", "1", "--allow-private-webhooks", "--pixy-long-polling-timeout-ms", "1000"]) { WithGrpc = true };

    /// <summary>The default routes (<c>/v1/topics/...</c>): the default cluster.</summary>
    public HttpClient Default => Server.Client;

    /// <summary>The same requests, sent below <c>/v1/clusters/east</c>.</summary>
    public HttpClient East { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(Server.WorkingDirectory, "sluice.yaml"), """
            kafka:
              clusters:
                east:
                  mockBrokers: 1
            """);
        await Server.StartAsync();
        East = ClusterClient.For(Server, "east");
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Server.GrpcPort}");
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        East.Dispose();
        await Server.DisposeAsync();
    }
}
