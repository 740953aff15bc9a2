using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Fleet;

/// <summary>
/// Two gateway processes in front of one Kafka cluster (librdkafka's mock, hosted by a third gateway process that the
/// tests use only to create topics: the mock has no admin API, so only its host can). Any instance serves any request:
/// a subscription's partitions split between the instances that have consumers, an ack goes to either, and a killed
/// instance's partitions move to the other with its unacked messages.
/// </summary>
/// <remarks>These start their own Kafka servers, so they run once, not again in the suite's Kafka pass.</remarks>
[Trait("Backend", "OwnKafka")]
public sealed class KafkaFleetTests(ITestOutputHelper output) : IAsyncLifetime
{
    private KafkaFleet _fleet = null!;

    private ServerProcess _host = null!;
    private ServerProcess _a = null!;
    private ServerProcess _b = null!;

    public async Task InitializeAsync()
    {
        _fleet = await KafkaFleet.StartAsync(output);
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
    public async Task SharedSubscription_SplitsAcrossInstances_EachMessageOnce()
    {
        var topic = await NewTopicAsync(4);
        await _a.Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 60000 });

        // A pull attaches its consumer and joins the subscription's group; the second join rebalances both.
        Assert.Empty(await _a.Client.PullAsync(topic, "s", consumer: "ca"));
        Assert.Empty(await _b.Client.PullAsync(topic, "s", consumer: "cb"));
        await ProduceAsync(topic, 40, partitions: 4);

        var fromA = new List<JsonElement>();
        var fromB = new List<JsonElement>();
        await PullUntilAsync(topic, () => fromA.Count + fromB.Count >= 40, (_a, "ca", fromA), (_b, "cb", fromB));

        var all = fromA.Concat(fromB).Select(Id).ToList();
        Assert.Equal(40, all.Count);
        Assert.Equal(40, all.Distinct().Count());
        Assert.NotEmpty(fromA);
        Assert.NotEmpty(fromB);
        Assert.Empty(fromA.Select(Partition).Intersect(fromB.Select(Partition)));
    }

    [Fact]
    public async Task PullOnOneInstance_AckOnTheOther_IsApplied()
    {
        var topic = await NewTopicAsync(2);
        await _a.Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 3000 });
        await ProduceAsync(topic, 10, partitions: 2);
        var got = new List<JsonElement>();
        await PullUntilAsync(topic, () => got.Count >= 10, (_a, "ca", got));

        var ack = await _b.Client.AckAsync(topic, "s", got.Select(m => m.AckId()));

        Assert.Equal(10, ack.GetProperty("acked").GetInt32());
        await WaitForAsync(async () => (await SluiceApi.ReadJsonAsync(await _a.Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"))).GetProperty("backlog").GetInt64() == 0);

        // Past the 3 s ack deadline: had the ack been lost, the messages would come again now.
        Assert.Empty(await _a.Client.PullAsync(topic, "s", consumer: "ca", waitMs: 4000));
    }

    [Fact]
    public async Task InstanceKilled_ItsPartitionsMove_AndOnlyItsUnackedMessagesComeAgain()
    {
        var topic = await NewTopicAsync(4);
        await _a.Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 120000 });
        Assert.Empty(await _a.Client.PullAsync(topic, "s", consumer: "ca"));
        Assert.Empty(await _b.Client.PullAsync(topic, "s", consumer: "cb"));
        await ProduceAsync(topic, 20, partitions: 4);
        var fromA = new List<JsonElement>();
        var fromB = new List<JsonElement>();
        await PullUntilAsync(topic, () => fromA.Count + fromB.Count >= 20, (_a, "ca", fromA), (_b, "cb", fromB));
        Assert.NotEmpty(fromA);

        // A acks half of what it holds, then dies without a word; B acks everything it holds.
        var ackedByA = fromA.Take(fromA.Count / 2).ToList();
        if (ackedByA.Count > 0)
        {
            await _a.Client.AckAsync(topic, "s", ackedByA.Select(m => m.AckId()));
        }

        await _b.Client.AckAsync(topic, "s", fromB.Select(m => m.AckId()));
        await _a.KillAsync();

        // The group notices after the session timeout and gives B every partition, starting from A's last cursors.
        var again = new List<JsonElement>();
        var expected = fromA.Skip(ackedByA.Count).Select(Id).Order().ToList();
        await PullUntilAsync(topic, () => again.Count >= expected.Count, (_b, "cb", again));
        Assert.Equal(expected, again.Select(Id).Order());
        Assert.Empty(await _b.Client.PullAsync(topic, "s", consumer: "cb", waitMs: 1000));
    }

    [Fact]
    public async Task Exclusive_IsEnforcedPerInstance_AndSplitsAcrossInstances_AsDocumented()
    {
        var topic = await NewTopicAsync(2);
        await _a.Client.PutSubscriptionAsync(topic, "s", new { type = "exclusive", position = "earliest", ackDeadlineMs = 60000 });
        Assert.Empty(await _a.Client.PullAsync(topic, "s", consumer: "first"));

        // A second consumer through the same instance is refused, as on the embedded log...
        using var refused = new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/s/messages");
        refused.Headers.Add("Sluice-Consumer-Id", "second");
        using var busy = await _a.Client.SendAsync(refused);
        Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);

        // ...but one through another instance is not: the instances' groups split the partitions (README: Kafka backend).
        Assert.Empty(await _b.Client.PullAsync(topic, "s", consumer: "second"));
        await ProduceAsync(topic, 10, partitions: 2);
        var first = new List<JsonElement>();
        var second = new List<JsonElement>();
        await PullUntilAsync(topic, () => first.Count + second.Count >= 10, (_a, "first", first), (_b, "second", second));
        Assert.Equal(5, first.Count);
        Assert.Equal(5, second.Count);
    }

    [Fact]
    public async Task PixyConsumeOnOneInstance_PixyAckOnTheOther_IsApplied()
    {
        var topic = await NewTopicAsync(2);
        var pixyTopic = topic.Replace('/', '.');   // tests/ns/fleet-x is the Kafka (and Pixy) topic tests.ns.fleet-x
        using (var first = await _a.Client.GetAsync($"/topics/{pixyTopic}/messages?group=g&noAck"))
        {
            Assert.Equal(HttpStatusCode.RequestTimeout, first.StatusCode);   // the group starts at the end here
        }

        await ProduceAsync(topic, 6, partitions: 2);
        var got = new List<(int Partition, long Offset)>();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (got.Count < 6)
        {
            guard.Token.ThrowIfCancellationRequested();
            using var r = await _a.Client.GetAsync($"/topics/{pixyTopic}/messages?group=g&noAck");
            if (r.StatusCode == HttpStatusCode.OK)
            {
                var m = await SluiceApi.ReadJsonAsync(r);
                got.Add((m.GetProperty("partition").GetInt32(), m.GetProperty("offset").GetInt64()));
            }
        }

        foreach (var (partition, offset) in got)
        {
            using var ack = await _b.Client.PostAsync($"/topics/{pixyTopic}/acks?group=g&partition={partition}&offset={offset}", null);
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        }

        await WaitForAsync(async () => (await SluiceApi.ReadJsonAsync(await _a.Client.GetAsync($"/v1/topics/{topic}/subscriptions/g"))).GetProperty("backlog").GetInt64() == 0);
        // The other instance sees the group's offsets once it has followed the cursor topic.
        await WaitForAsync(async () =>
        {
            var offsets = await SluiceApi.ReadJsonAsync(await _b.Client.GetAsync($"/topics/{pixyTopic}/offsets?group=g"));
            return offsets.EnumerateArray().All(p => p.GetProperty("lag").GetInt64() == 0) && offsets.EnumerateArray().Sum(p => p.GetProperty("offset").GetInt64()) == 6;
        });
    }

    [Fact]
    public async Task FilteredSubscription_CreatedOnOneInstance_FiltersOnTheOther()
    {
        var topic = await NewTopicAsync(2);
        await _a.Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 60000, filter = Filters.FilterApi.Eu });
        await Filters.FilterApi.ProduceRegionsAsync(_host.Client, topic, 40);

        // B learns the subscription, filter included, from the subscriptions topic in Kafka.
        var got = new List<JsonElement>();
        await PullUntilAsync(topic, () => got.Count >= 8, (_b, "cb", got));
        await _b.Client.AckAsync(topic, "s", got.Select(m => m.AckId()));

        Assert.Equal(Filters.FilterApi.EuValues(40), got.Select(m => m.Value()).Order(StringComparer.Ordinal));
        Assert.Empty(await _b.Client.PullAsync(topic, "s", consumer: "cb", waitMs: 1000));
        await WaitForAsync(async () =>
        {
            var info = await SluiceApi.ReadJsonAsync(await _b.Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
            return info.GetProperty("backlog").GetInt64() == 0 && info.GetProperty("filteredOut").GetInt64() == 32;
        });
        Assert.Equal(Filters.FilterApi.Eu, (await SluiceApi.ReadJsonAsync(await _b.Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"))).GetProperty("filter").GetString());
    }

    private static string Id(JsonElement message) => message.GetProperty("id").GetString()!;

    private static int Partition(JsonElement message) => int.Parse(Id(message).Split(':')[0], System.Globalization.CultureInfo.InvariantCulture);

    private async Task<string> NewTopicAsync(int partitions)
    {
        var topic = SluiceApi.NewTopic("fleet");
        using var put = await _host.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return topic;
    }

    private async Task ProduceAsync(string topic, int count, int partitions)
    {
        for (var i = 0; i < count; i++)
        {
            await _host.Client.ProduceAsync(topic, "m" + i, partition: i % partitions);
        }
    }

    // Long-polls each instance in turn until the condition holds; bounded against a hang, never a timing assertion.
    private static async Task PullUntilAsync(string topic, Func<bool> done, params (ServerProcess Server, string Consumer, List<JsonElement> Into)[] pullers)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!done())
        {
            guard.Token.ThrowIfCancellationRequested();
            foreach (var (server, consumer, into) in pullers)
            {
                into.AddRange(await server.Client.PullAsync(topic, "s", consumer: consumer, waitMs: 500));
            }
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            await Task.Delay(100, guard.Token);
        }
    }
}
