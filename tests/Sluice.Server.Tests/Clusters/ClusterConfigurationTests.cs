using Sluice.Server.Configuration;

namespace Sluice.Server.Tests.Clusters;

/// <summary>The configuration of several clusters, in-process: per-cluster mocks, case-insensitive names, validation.</summary>
public sealed class ClusterConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-clusters-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NamedClusters_FromFileAndEnvironment_AreOneClusterWhateverTheCase()
    {
        File.WriteAllText(Path.Combine(_dir, "sluice.yaml"), """
            backend: kafka
            kafka:
              clusters:
                default:
                  bootstrap: a:9092
                east:
                  bootstrap: b:9092
                test:
                  mockBrokers: 2
            """);
        var env = new Dictionary<string, string?>
        {
            ["SLUICE_KAFKA__CLUSTERS__EAST__SETTINGS__SECURITY.PROTOCOL"] = "SSL",
            ["SLUICE_KAFKA__CLUSTERS__DEFAULT__SETTINGS__CLIENT.ID"] = "gw",
        };
        var result = ServerOptionsLoader.Load([], env, _dir);

        Assert.Empty(result.Errors);
        Assert.Empty(ServerOptionsValidator.Check(result.Options));
        var clusters = result.Options.KafkaClusters;
        Assert.Equal(["default", "east", "test"], clusters.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("SSL", clusters["east"].Settings["security.protocol"]);
        Assert.Equal("gw", clusters["default"].Settings["client.id"]);
        Assert.Equal(2, clusters["test"].MockBrokers);
        Assert.Equal(2, Sluice.Server.Hosting.Backend.KafkaOptionsFor(result.Options, "test").MockBrokers);
        Assert.Equal("b:9092", Sluice.Server.Hosting.Backend.KafkaOptionsFor(result.Options, "east").BootstrapServers);
    }

    [Theory]
    [InlineData("east:\n      settings:\n        client.id: x", "kafka:clusters:east needs bootstrap servers (kafka:clusters:east:bootstrap) or a mock cluster (kafka:clusters:east:mockBrokers)")]
    [InlineData("east:\n      bootstrap: b:9092\n      mockBrokers: 1", "kafka:clusters:east has both bootstrap servers and mockBrokers; give one")]
    public void NamedCluster_WithoutOneWayToReachIt_IsRefused(string east, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, "sluice.yaml"), $"""
            backend: kafka
            kafka:
              clusters:
                default:
                  bootstrap: a:9092
                {east}
            """);
        var result = ServerOptionsLoader.Load([], new Dictionary<string, string?>(), _dir);
        Assert.Empty(result.Errors);
        Assert.Contains(ServerOptionsValidator.Check(result.Options), e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("x")]
    [InlineData("17")]
    [InlineData("-1")]
    public void MockBrokers_OutOfRange_IsAnErrorNamingTheKey(string value)
    {
        var env = new Dictionary<string, string?> { ["SLUICE_BACKEND"] = "kafka", ["SLUICE_KAFKA__CLUSTERS__EAST__MOCKBROKERS"] = value };
        var result = ServerOptionsLoader.Load(["--kafka-mock-brokers", "1"], env, _dir);
        Assert.Contains(result.Errors, e => e.Contains("kafka:clusters:east:mockbrokers", StringComparison.OrdinalIgnoreCase) && e.Contains("between 0 and 16", StringComparison.Ordinal));
    }
}
