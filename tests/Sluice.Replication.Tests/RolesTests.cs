using System.Net;
using Sluice.Replication.Tests.Http;
using Sluice.Replication.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Replication.Tests;

/// <summary>
/// Roles split a fleet: an instance with role <c>http</c> only serves the API and runs nothing; one with role
/// <c>workers</c> only runs replicators and answers nothing but health. They start their own Kafka gateways, so they run
/// once, not again in the suite's Kafka pass.
/// </summary>
[Trait("Backend", "OwnKafka")]
public sealed class RolesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HttpOnlyAndWorkersOnlyInstances_ShareTheWork_EachServingOnlyItsRole()
    {
        await using var receiver = await HttpReceiver.StartNewAsync();
        await using var http = new ServerProcess(["--backend", "kafka", "--kafka-mock-brokers", "3", "--roles", "http", "--allow-private-webhooks"]);
        await http.StartAsync();
        var bootstrap = (await SluiceApi.ReadJsonAsync(await http.Client.GetAsync("/healthz"))).GetProperty("kafkaBootstrap").GetString()!;
        await using var workers = new ServerProcess(["--backend", "kafka", "--kafka-mock-brokers", "0", "--kafka-bootstrap", bootstrap, "--roles", "workers", "--allow-private-webhooks"]);
        await workers.StartAsync();
        try
        {
            var topic = Gateway.NewTopic("roles");
            using (var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/topics/{topic}") { Content = SluiceApi.Json(new { partitions = 2 }) })
            {
                await SluiceApi.SendOkAsync(http.Client, put);
            }

            var name = SinkScenarios.NewName();
            await http.Client.CreateReplicatorAsync(SinkScenarios.Body(name, topic, receiver));
            for (var i = 0; i < 20; i++)
            {
                await http.Client.ProduceAsync(topic, $"v{i}", key: $"k{i}");
            }

            await receiver.WaitForRecordsAsync(topic, 20);
            var status = await http.Client.WaitForStatusAsync(name, s => s.GetProperty("lag").GetInt64() == 0);
            Assert.False(status.GetProperty("workersHere").GetBoolean());
            Assert.Equal(0, status.GetProperty("recordsWritten").GetInt64());

            var refused = await workers.Client.SendAsync(HttpMethod.Get, "/v1/topics");
            Assert.Equal(HttpStatusCode.NotFound, refused.Status);
            Assert.Equal("urn:sluice:problem:not-served-here", refused.Body.GetProperty("type").GetString());
            await workers.Client.ExpectAsync(HttpMethod.Get, "/readyz", HttpStatusCode.OK);
        }
        catch
        {
            http.WriteOutputTo(output, 60);
            workers.WriteOutputTo(output, 120);
            throw;
        }
    }

    [Fact]
    public async Task RolesOtherThanBoth_OnTheEmbeddedLog_AreRefusedAtStart()
    {
        await using var server = new ServerProcess();
        var (exitCode, stderr) = await server.RunToExitAsync("--roles", "http", "--port", "1");
        Assert.Equal(2, exitCode);
        Assert.Contains("roles", stderr, StringComparison.Ordinal);
    }
}
