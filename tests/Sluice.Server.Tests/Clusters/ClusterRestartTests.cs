using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Server.Tests.Clusters;

/// <summary>
/// A gateway serving two Kafka clusters that outlive it: each is librdkafka's mock hosted by a keeper process (role
/// <c>http</c> only, so it runs no webhooks; the tests use it only to create topics, as the mock has no admin API). The
/// gateway is stopped and started again; each cluster's subscriptions, cursors and webhooks are still there, and only
/// there, because they live in that cluster's state topics.
/// </summary>
[Trait("Backend", "OwnKafka")]
public sealed class ClusterRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _defaultKeeper = null!;
    private ServerProcess _eastKeeper = null!;
    private ServerProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        try
        {
            _defaultKeeper = new ServerProcess(["--backend", "kafka", "--kafka-mock-brokers", "1", "--roles", "http"]);
            _eastKeeper = new ServerProcess(["--backend", "kafka", "--kafka-mock-brokers", "1", "--roles", "http"]);
            await Task.WhenAll(_defaultKeeper.StartAsync(), _eastKeeper.StartAsync());
            _gateway = new ServerProcess(["--backend", "kafka", "--kafka-bootstrap", await BootstrapAsync(_defaultKeeper), "--kafka-session-timeout-ms", "6000", "--allow-private-webhooks"]);
            await File.WriteAllTextAsync(Path.Combine(_gateway.WorkingDirectory, "sluice.yaml"), $"""
                kafka:
                  clusters:
                    east:
                      bootstrap: {await BootstrapAsync(_eastKeeper)}
                """);
            await _gateway.StartAsync();
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: stop what did start.
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var (name, server) in new[] { ("gateway", _gateway), ("default keeper", _defaultKeeper), ("east keeper", _eastKeeper) })
        {
            if (server is null)
            {
                continue;
            }

            output.WriteLine($"---- {name}");
            server.WriteOutputTo(output, 60);
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task GatewayRestart_KeepsEachClustersSubscriptionsCursorsAndWebhooks_Apart()
    {
        var topic = SluiceApi.NewTopic("restart-two");
        foreach (var keeper in new[] { _defaultKeeper, _eastKeeper })
        {
            using var put = await keeper.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 }));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var east = ClusterClient.For(_gateway, "east"))
        {
            await east.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
            await east.ProduceAsync(topic, "e1");
            await east.ProduceAsync(topic, "e2");
            var got = await east.DrainAsync(topic, "s", 2, ack: false);
            Assert.Equal(["e1", "e2"], got.Select(m => m.Value()));
            Assert.Equal(1, (await east.AckAsync(topic, "s", [got[0].AckId()])).GetProperty("acked").GetInt32());
            await east.CreateWebhookAsync(new { topic, url = "http://127.0.0.1:9/never" });
        }

        await _gateway.Client.PutSubscriptionAsync(topic, "d", new { position = "earliest" });
        await _gateway.Client.ProduceAsync(topic, "d1");

        Assert.Equal(0, await _gateway.StopAsync());

        // A start that fails (its port taken) says why and exits, though it had loaded both clusters' state and begun
        // joining their groups; and it leaves that state as it was.
        var (exitCode, stderr) = await _gateway.RunOnATakenPortAsync();
        Assert.Equal(1, exitCode);
        Assert.Contains("address already in use", stderr, StringComparison.Ordinal);

        await _gateway.StartAsync();

        using (var east = ClusterClient.For(_gateway, "east"))
        {
            // The acked message stays acked; the one delivered and not acked comes again.
            var again = await east.DrainAsync(topic, "s", 1);
            Assert.Equal(["e2"], again.Select(m => m.Value()));
            var hooks = await SluiceApi.SendOkAsync(east, new HttpRequestMessage(HttpMethod.Get, "/v1/webhooks"));
            Assert.Equal([topic], hooks.GetProperty("webhooks").EnumerateArray().Select(w => w.GetProperty("topic").GetString()));
            using var noD = await east.GetAsync($"/v1/topics/{topic}/subscriptions/d");
            Assert.Equal(HttpStatusCode.NotFound, noD.StatusCode);
        }

        using (var noS = await _gateway.Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"))
        {
            Assert.Equal(HttpStatusCode.NotFound, noS.StatusCode);
        }

        var defaultHooks = await SluiceApi.SendOkAsync(_gateway.Client, new HttpRequestMessage(HttpMethod.Get, "/v1/webhooks"));
        Assert.Empty(defaultHooks.GetProperty("webhooks").EnumerateArray());
        Assert.Equal(["d1"], (await _gateway.Client.DrainAsync(topic, "d", 1)).Select(m => m.Value()));
    }

    private static async Task<string> BootstrapAsync(ServerProcess keeper)
    {
        using var response = await keeper.Client.GetAsync("/healthz");
        return (await SluiceApi.ReadJsonAsync(response)).GetProperty("kafkaBootstrap").GetString()!;
    }
}
