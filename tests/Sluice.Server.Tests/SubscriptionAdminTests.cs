using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

public sealed class SubscriptionAdminTests(SharedServer shared, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private readonly HttpClient _client = shared.Client;

    public void Dispose() => shared.Server.WriteOutputTo(output, lastLines: 50);

    [Fact]
    public async Task Failover_OnlyTheActiveConsumerReceives()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "f", new { type = "failover", position = "earliest", ackDeadlineMs = 120_000 });
        for (var i = 0; i < 5; i++)
        {
            await _client.ProduceAsync(topic, "m" + i, partition: 0);
        }

        var first = await _client.PullAsync(topic, "f", consumer: "primary", max: 2, waitMs: 5000);
        Assert.NotEmpty(first);

        // The standby gets nothing while the primary is attached, though messages are ready.
        Assert.Empty(await _client.PullAsync(topic, "f", consumer: "standby", waitMs: 300));
        var rest = await _client.PullAsync(topic, "f", consumer: "primary", waitMs: 5000);
        Assert.NotEmpty(rest);
    }

    [Fact]
    public async Task Seek_ByTime_MovesTheCursor()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _client.ProduceAsync(topic, "old", partition: 0);
        Assert.Single(await _client.DrainAsync(topic, "s", 1));

        using (var back = await _client.PostAsync($"/v1/topics/{topic}/subscriptions/s/seek", SluiceApi.Json(new { position = new { time = 0 } })))
        {
            Assert.Equal(HttpStatusCode.NoContent, back.StatusCode);
        }

        Assert.Equal("old", Assert.Single(await _client.DrainAsync(topic, "s", 1)).Value());

        using (var ahead = await _client.PostAsync($"/v1/topics/{topic}/subscriptions/s/seek", SluiceApi.Json(new { position = new { time = "2100-01-01T00:00:00Z" } })))
        {
            Assert.Equal(HttpStatusCode.NoContent, ahead.StatusCode);
        }

        Assert.Empty(await _client.PullAsync(topic, "s", waitMs: 300));
    }

    [Fact]
    public async Task Put_ChangesSettings_Delete_RemovesIt()
    {
        var topic = SluiceApi.NewTopic();
        using (var created = await _client.PutAsync($"/v1/topics/{topic}/subscriptions/s", SluiceApi.Json(new { ackDeadlineMs = 5000 })))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var changed = await _client.PutAsync($"/v1/topics/{topic}/subscriptions/s", SluiceApi.Json(new { ackDeadlineMs = 7000, maxDeliveries = 3 })))
        {
            var body = await SluiceApi.ReadJsonAsync(changed);
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            Assert.Equal(7000, body.GetProperty("ackDeadlineMs").GetInt64());
            Assert.Equal(3, body.GetProperty("maxDeliveries").GetInt32());
        }

        using (var deleted = await _client.DeleteAsync($"/v1/topics/{topic}/subscriptions/s"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using var gone = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/s");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var again = await _client.DeleteAsync($"/v1/topics/{topic}/subscriptions/s");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    // Grows partitions: the Kafka mock has no CreatePartitions (it answers 501 there).
    [Fact]
    [Trait("Backend", "EmbeddedOnly")]
    public async Task TopicPut_OnExistingTopic_ChangesRetentionAndGrowsPartitions()
    {
        var topic = SluiceApi.NewTopic();
        await _client.ProduceAsync(topic, "x");
        using var put = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 6, retentionBytes = 1_000_000 }));
        var body = await SluiceApi.ReadJsonAsync(put);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(6, body.GetProperty("partitions").GetArrayLength());
        Assert.Equal(1_000_000, body.GetProperty("retentionBytes").GetInt64());

        // The new partitions take messages at once.
        Assert.Equal(5, (await _client.ProduceAsync(topic, "y", partition: 5)).GetProperty("partition").GetInt32());
    }
}
