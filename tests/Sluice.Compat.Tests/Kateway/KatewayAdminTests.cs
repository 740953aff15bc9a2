using System.Net;
using System.Text.Json;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>kateway's admin routes (topics, partitions, status, peek, groups, offsets) and its webhooks.</summary>
public sealed class KatewayAdminTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task CreateTopic_WithPartitions_ThenPartitions_ReportsOffsets_AndCreatingAgainIs409()
    {
        var topic = Names.Unique("created");
        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Post, $"/v1/topics/app1/{topic}/v1?partitions=3&retention.hours=72", "app1")));
        await _client.PubAsync("app1", topic, "v1", "a", key: "k");

        var partitions = JsonDocument.Parse(await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/partitions/app1/{topic}/v1", "app1"))).RootElement;
        Assert.Equal(3, partitions.GetProperty("num").GetInt32());
        Assert.Equal(1, partitions.GetProperty("offsets").EnumerateObject().Sum(p => p.Value.GetProperty("latest").GetInt64() - p.Value.GetProperty("oldest").GetInt64()));

        var again = await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Post, $"/v1/topics/app1/{topic}/v1", "app1"), HttpStatusCode.Conflict);
        Assert.Contains("errmsg", again, StringComparison.Ordinal);

        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Put, $"/v1/topics/app1/{topic}/v1?retention.hours=24", "app1")));
        var info = await _client.GetTopicAsync($"app1/{topic}/v1");
        Assert.Equal(24L * 3600 * 1000, info.GetProperty("retentionMs").GetInt64());
    }

    [Fact]
    public async Task Status_ShowsTheGroupsPositions_AndSubdShowsEveryApp()
    {
        var topic = Names.Unique("status");
        await _client.PubAsync("app1", topic, "v1", "one");
        await _client.PubAsync("app1", topic, "v1", "two");
        Assert.Equal(HttpStatusCode.OK, (await _client.SubAsync("app1", "app1", topic, "v1", "watchers")).Status);

        var status = JsonDocument.Parse(await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/status/app1/{topic}/v1?group=watchers", "app1", keyHeader: "Subkey"))).RootElement;
        var rows = status.EnumerateArray().ToList();
        Assert.All(rows, r => Assert.Equal("watchers", r.GetProperty("group").GetString()));
        Assert.Equal(2, rows.Sum(r => r.GetProperty("pubd").GetInt64()));
        Assert.Equal(1, rows.Sum(r => r.GetProperty("subd").GetInt64()));

        var subd = JsonDocument.Parse(await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/subd/{topic}/v1", "app1", keyHeader: "Subkey"))).RootElement;
        Assert.Contains(subd.EnumerateArray(), r => r.GetProperty("appid").GetString() == "app1" && r.GetProperty("group").GetString() == "watchers");
    }

    [Fact]
    public async Task Peek_ReturnsTheLastValues_AndPartitionPeekNeedsAnOffsetInRange()
    {
        var topic = Names.Unique("peek");
        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Post, $"/v1/topics/app1/{topic}/v1?partitions=1", "app1")));
        for (var i = 0; i < 4; i++)
        {
            await _client.PubAsync("app1", topic, "v1", "v" + i);
        }

        var last = JsonSerializer.Deserialize<List<byte[]>>(await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/peek/app1/{topic}/v1?n=2", "app1", keyHeader: "Subkey")))!;
        Assert.Equal(["v2", "v3"], last.Select(b => System.Text.Encoding.UTF8.GetString(b)));
        var from = JsonSerializer.Deserialize<List<byte[]>>(await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/peek/app1/{topic}/v1?n=2&partition=0&offset=1", "app1", keyHeader: "Subkey")))!;
        Assert.Equal(["v1", "v2"], from.Select(b => System.Text.Encoding.UTF8.GetString(b)));

        var outOfRange = await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/peek/app1/{topic}/v1?n=2&partition=0&offset=9", "app1", keyHeader: "Subkey"), HttpStatusCode.BadRequest);
        Assert.Contains("offset out of range", outOfRange, StringComparison.Ordinal);
        var noN = await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/peek/app1/{topic}/v1", "app1", keyHeader: "Subkey"), HttpStatusCode.BadRequest);
        Assert.Contains("invalid n param", noN, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResetOffset_MovesTheGroup_AndDeleteGroupRemovesIt()
    {
        var topic = Names.Unique("seek");
        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Post, $"/v1/topics/app1/{topic}/v1?partitions=1", "app1")));
        for (var i = 0; i < 3; i++)
        {
            await _client.PubAsync("app1", topic, "v1", "s" + i);
        }

        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Put, $"/v1/offset/app1/{topic}/v1/seekers/0?offset=2", "app1", keyHeader: "Subkey")));
        Assert.Equal("s2", (await _client.SubAsync("app1", "app1", topic, "v1", "seekers")).Messages.Single().Value);

        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Delete, $"/v1/groups/app1/{topic}/v1/seekers", "app1", keyHeader: "Subkey")));
        Assert.DoesNotContain("app1.seekers", await _client.GetStringAsync($"/v1/topics/app1/{topic}/v1/subscriptions"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhook_CallsEachEndpointWithKatewaysHeaders_AtLeastOnce_AndDeleteStopsIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var failedOnce = 0;
        receiver.Respond = _ => Task.FromResult(Interlocked.Exchange(ref failedOnce, 1) == 0 ? new ReceiverAnswer(503) : ReceiverAnswer.Ok);
        var topic = Names.Unique("hooks");
        var (partition, offset) = await _client.PubAsync("app1", topic, "v1", "from the start");

        using (var put = KatewayApi.Request(HttpMethod.Put, $"/v1/webhooks/app1/{topic}/v1?group=hookers", "app1", keyHeader: "Subkey"))
        {
            put.Content = KatewayApi.Json(new { endpoints = new[] { receiver.Url } });
            Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(put));
        }

        // kateway's webhook started at the oldest message and called once (a 503 lost it); here the 503 is retried.
        var calls = await receiver.WaitForAsync(c => c.Count >= 2, timeoutSeconds: 60);
        Assert.All(calls.Take(2), c => Assert.Equal("from the start", c.Text));
        Assert.Equal(partition.ToString(System.Globalization.CultureInfo.InvariantCulture), calls[1].Header("X-Partition"));
        Assert.Equal(offset.ToString(System.Globalization.CultureInfo.InvariantCulture), calls[1].Header("X-Offset"));

        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Delete, $"/v1/webhooks/app1/{topic}/v1?group=hookers", "app1", keyHeader: "Subkey")));
        Assert.DoesNotContain(receiver.Url, await _client.GetStringAsync("/v1/webhooks"), StringComparison.Ordinal);
    }
}
