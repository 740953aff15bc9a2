using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Fleet;

/// <summary>
/// Three gateway processes on one Kafka cluster: <see cref="Host"/> hosts librdkafka's mock cluster (the mock has no
/// admin API, so only its host creates topics) and <see cref="A"/> and <see cref="B"/> join it by its bootstrap servers.
/// </summary>
public sealed class KafkaFleet : IAsyncDisposable
{
    /// <summary>Low, so a killed instance is noticed by a group soon (Kafka's floor for a session timeout is 6 s on real brokers).</summary>
    public const string SessionTimeoutMs = "6000";

    private readonly ITestOutputHelper _output;

    private KafkaFleet(ITestOutputHelper output) => _output = output;

    public ServerProcess Host { get; private set; } = null!;

    public ServerProcess A { get; private set; } = null!;

    public ServerProcess B { get; private set; } = null!;

    /// <param name="output">Where each server's last lines go when the fleet is disposed.</param>
    /// <param name="hostJoinsGroups">The host takes part in groups too (with the members' session timeout): it then must die as fast as they do.</param>
    public static async Task<KafkaFleet> StartAsync(ITestOutputHelper output, bool hostJoinsGroups = false)
    {
        var fleet = new KafkaFleet(output);
        try
        {
            fleet.Host = new ServerProcess(["--backend", "kafka", "--kafka-mock-brokers", "3", .. hostJoinsGroups ? new[] { "--kafka-session-timeout-ms", SessionTimeoutMs } : []]);
            await fleet.Host.StartAsync();
            var health = await SluiceApi.ReadJsonAsync(await fleet.Host.Client.GetAsync("/healthz"));
            var bootstrap = health.GetProperty("kafkaBootstrap").GetString()!;
            string[] member = ["--backend", "kafka", "--kafka-bootstrap", bootstrap, "--kafka-session-timeout-ms", SessionTimeoutMs];
            fleet.A = new ServerProcess(member);
            fleet.B = new ServerProcess(member);
            await Task.WhenAll(fleet.A.StartAsync(), fleet.B.StartAsync());
            return fleet;
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: stop what did start.
            await fleet.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (name, server) in new[] { ("a", A), ("b", B), ("host", Host) })
        {
            if (server is null)
            {
                continue;
            }

            _output.WriteLine($"---- {name}");
            server.WriteOutputTo(_output, 60);
            await server.DisposeAsync();
        }
    }
}
