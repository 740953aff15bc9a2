using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Delay;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Fleet;

/// <summary>
/// Delayed messages on a fleet of three gateways in front of one Kafka cluster (librdkafka's mock, hosted by the first):
/// the holding topic's consumer group gives each partition one scheduling instance, and killing one that schedules
/// partitions (not the mock's host) hands them to the others, which deliver its pending messages.
/// </summary>
/// <remarks>These start their own Kafka servers, so they run once, not again in the suite's Kafka pass.</remarks>
[Trait("Backend", "OwnKafka")]
public sealed class KafkaDelayFleetTests(ITestOutputHelper output) : IAsyncLifetime
{
    private KafkaFleet _fleet = null!;

    private ServerProcess _host = null!;
    private ServerProcess _a = null!;
    private ServerProcess _b = null!;

    // The host schedules holding partitions too: the test kills a member, never the mock's host.
    public async Task InitializeAsync()
    {
        _fleet = await KafkaFleet.StartAsync(output, hostJoinsGroups: true);
        (_host, _a, _b) = (_fleet.Host, _fleet.A, _fleet.B);
    }

    public async Task DisposeAsync()
    {
        if (_fleet is not null)
        {
            await _fleet.DisposeAsync();
        }
    }

    [Fact]
    public async Task OwnerKilled_ItsPendingMessagesAreDeliveredByTheOthers_EachOnce_NotBeforeTheirTime()
    {
        const int Partitions = 4;
        var topic = SluiceApi.NewTopic("delay-fleet");
        using (var put = await _host.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = Partitions })))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await _host.Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 120_000 });

        // The first delayed produce registers the topic's holding topic (through the host: only it can create topics on
        // the mock); every instance then joins the holding topic's group. Wait until the group has settled: together the
        // instances schedule every partition, and A schedules some.
        var warmUp = await _host.Client.ProduceAfterAsync(topic, "warm-up", 600_000, partition: 0);
        var owned = new Dictionary<string, int[]>();
        await WaitForAsync(async () =>
        {
            foreach (var (name, server) in new[] { ("host", _host), ("a", _a), ("b", _b) })
            {
                owned[name] = (await server.Client.ListDelayedAsync(topic)).GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()).ToArray();
            }

            return owned["a"].Length > 0 && owned.Values.SelectMany(p => p).Order().SequenceEqual(Enumerable.Range(0, Partitions));
        });
        output.WriteLine($"owners before the kill: {string.Join("; ", owned.Select(o => $"{o.Key}=[{string.Join(',', o.Value)}]"))}");

        // Three messages per partition, through every instance; A holds those of its partitions.
        var due = new Dictionary<string, DateTimeOffset>();
        var clients = new[] { _host.Client, _a.Client, _b.Client };
        for (var i = 0; i < 3 * Partitions; i++)
        {
            var answer = await clients[i % 3].ProduceAfterAsync(topic, $"m{i}", 20_000, partition: i % Partitions);
            due[$"m{i}"] = answer.DeliverAt();
        }

        var expectedOnA = (3 * owned["a"].Length) + (owned["a"].Contains(0) ? 1 : 0);
        await WaitForAsync(async () => (await _a.Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64() == expectedOnA);

        await _a.KillAsync();

        var received = await _b.Client.ReceiveAsync(topic, "s", 3 * Partitions, TimeSpan.FromSeconds(120));
        Assert.Equal(due.Keys.Order(StringComparer.Ordinal), received.Select(r => r.Message.Value()).Order(StringComparer.Ordinal));
        foreach (var (message, receivedAt) in received)
        {
            Assert.True(receivedAt >= due[message.Value()], $"{message.Value()} arrived before its time");
            Assert.NotNull(message.DelayIdHeader());
        }

        Assert.Empty(await _b.Client.PullAsync(topic, "s", "delay-test", waitMs: 2000));

        // A cancel through any instance is decided by the partition's owner, whichever instance that is now.
        var late = await _b.Client.ProduceAfterAsync(topic, "late", 600_000, partition: owned["a"][0]);
        Assert.Equal(HttpStatusCode.NoContent, (await _host.Client.CancelAsync(topic, late.Id())).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await _b.Client.CancelAsync(topic, late.Id())).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await _b.Client.CancelAsync(topic, warmUp.Id())).Status);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            await Task.Delay(200, guard.Token);
        }
    }
}
