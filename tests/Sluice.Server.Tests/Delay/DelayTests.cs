using System.Globalization;
using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Streaming;

namespace Sluice.Server.Tests.Delay;

/// <summary>
/// Delayed messages through the real server: produced with a delivery time, held where no consumer sees them, delivered
/// to their topic once due, cancellable until then. "Not before" is asserted strictly; "soon after" only with
/// <see cref="DelayApi.LatenessBound"/> (the benchmark measures the real lateness).
/// </summary>
public sealed class DelayTests(SharedServer fixture, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private HttpClient Client => fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, 60);

    [Fact]
    public async Task DeliverAfterAndDeliverAt_ArriveNotBeforeTheirTime_AndSoonAfter_WithTheirId()
    {
        var topic = SluiceApi.NewTopic("delay");
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var now = DateTimeOffset.UtcNow;
        var after = await Client.ProduceDelayedAsync(topic, "after", new Dictionary<string, string> { ["Sluice-Deliver-After"] = "1500", ["Sluice-Header-trace"] = "t1" }, "?key=k1");
        var iso = await Client.ProduceDelayedAsync(topic, "iso", new Dictionary<string, string> { ["Sluice-Deliver-At"] = now.AddSeconds(3).ToString("O", CultureInfo.InvariantCulture) });
        var epoch = await Client.ProduceDelayedAsync(topic, "epoch", new Dictionary<string, string>(), $"?deliverAt={now.AddSeconds(4.5).ToUnixTimeMilliseconds()}");
        var produced = new[] { ("after", after), ("iso", iso), ("epoch", epoch) };
        foreach (var (_, answer) in produced)
        {
            Assert.StartsWith("d:", answer.Id(), StringComparison.Ordinal);
            Assert.False(answer.TryGetProperty("offset", out _));
        }

        var received = await Client.ReceiveAsync(topic, "s", 3, TimeSpan.FromSeconds(90));

        foreach (var (value, answer) in produced)
        {
            var (message, receivedAt) = Assert.Single(received, r => r.Message.Value() == value);
            var due = answer.DeliverAt();
            Assert.True(receivedAt >= due, $"{value} arrived at {receivedAt:O}, before its time {due:O}");
            Assert.True(message.GetProperty("publishTime").GetDateTimeOffset() >= due, $"{value} was appended before its time");
            Assert.True(receivedAt <= due + DelayApi.LatenessBound, $"{value} arrived {receivedAt - due} late");
            Assert.Equal(answer.Id(), message.DelayIdHeader());
            Assert.Equal(answer.GetProperty("partition").GetInt32(), message.GetProperty("partition").GetInt32());
        }

        var first = received.Single(r => r.Message.Value() == "after").Message;
        Assert.Equal("k1", first.GetProperty("key").GetString());
        Assert.Equal("t1", first.GetProperty("headers").GetProperty("trace").GetString());
        Assert.Equal(0, (await Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Batch_EqualDeliveryTimes_ArriveInProductionOrder_BesideAnOrdinaryRecord()
    {
        var topic = SluiceApi.NewTopic("delay-batch");
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var due = DateTimeOffset.UtcNow.AddSeconds(2).ToString("O", CultureInfo.InvariantCulture);
        var records = Enumerable.Range(0, 10).Select(i => (object)new { value = $"d{i}", partition = 0, deliverAt = due }).ToList();
        records.Insert(5, new { value = "now", partition = 0 });
        records.Add(new { value = "epoch", partition = 0, deliverAt = (object)DateTimeOffset.UtcNow.AddSeconds(2.5).ToUnixTimeMilliseconds() });
        records.Add(new { value = "relative", partition = 1, deliverAfterMs = 1000 });
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages = records }) };
        var results = (await SluiceApi.SendOkAsync(Client, request)).GetProperty("results").EnumerateArray().ToList();

        Assert.Equal(13, results.Count);
        Assert.Equal("0:0", results[5].Id());
        Assert.Equal(0, results[5].GetProperty("offset").GetInt64());
        Assert.All(results.Where((_, i) => i != 5), r => Assert.StartsWith("d:", r.Id(), StringComparison.Ordinal));

        var received = await Client.ReceiveAsync(topic, "s", 13, TimeSpan.FromSeconds(90));
        var partition0 = received.Select(r => r.Message).Where(m => m.GetProperty("partition").GetInt32() == 0)
            .OrderBy(m => m.GetProperty("offset").GetInt64()).Select(m => m.Value()).ToList();
        Assert.Equal(["now", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "epoch"], partition0);
        Assert.Equal("relative", Assert.Single(received, r => r.Message.GetProperty("partition").GetInt32() == 1).Message.Value());
    }

    [Fact]
    public async Task Cancel_BeforeItsTime_ItNeverArrives_AndCancellingAgainOrAfterDeliveryIsNotCancellable()
    {
        var topic = SluiceApi.NewTopic("delay-cancel");
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        // Due after the other, and with room for a slow machine to send the cancel in time.
        var cancelled = await Client.ProduceAfterAsync(topic, "cancelled", 8000, partition: 0);
        var kept = await Client.ProduceAfterAsync(topic, "kept", 2000, partition: 0);

        var (status, _) = await Client.CancelAsync(topic, cancelled.Id());
        Assert.Equal(HttpStatusCode.NoContent, status);
        var (again, body) = await Client.CancelAsync(topic, cancelled.Id());
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("urn:sluice:problem:not-cancellable", body.GetProperty("type").GetString());

        var received = await Client.ReceiveAsync(topic, "s", 1, TimeSpan.FromSeconds(90));
        Assert.Equal("kept", received[0].Message.Value());

        // Past its time, and a little more: the cancelled one does not come.
        await Task.Delay(Until(cancelled.DeliverAt()));
        Assert.Empty(await Client.PullAsync(topic, "s", "delay-test", waitMs: 2000));
        var (late, lateBody) = await Client.CancelAsync(topic, kept.Id());
        Assert.Equal(HttpStatusCode.Conflict, late);
        Assert.Equal("urn:sluice:problem:not-cancellable", lateBody.GetProperty("type").GetString());
    }

    private static TimeSpan Until(DateTimeOffset time) => time > DateTimeOffset.UtcNow ? time - DateTimeOffset.UtcNow : TimeSpan.Zero;

    [Fact]
    public async Task Cancel_UnknownIdIsNotCancellable_AndAMalformedOneIsABadRequest()
    {
        var topic = SluiceApi.NewTopic("delay-unknown");
        await Client.ProduceAsync(topic, "plain");
        Assert.Equal(HttpStatusCode.Conflict, (await Client.CancelAsync(topic, "d:0:0:1")).Status);

        await Client.ProduceAfterAsync(topic, "held", 3_600_000, partition: 1);
        Assert.Equal(HttpStatusCode.Conflict, (await Client.CancelAsync(topic, "d:1:999:1")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Client.CancelAsync(topic, "d:1:0:7")).Status);
        var (status, body) = await Client.CancelAsync(topic, "0:0");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("urn:sluice:problem:invalid-parameter", body.GetProperty("type").GetString());
        Assert.Equal(1, (await Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Listing_PagesThroughPendingMessages_InDeliveryOrder_WithTheirCount()
    {
        var topic = SluiceApi.NewTopic("delay-list");
        var ids = new List<string>();
        for (var i = 0; i < 25; i++)
        {
            // Later messages are due sooner: the listing's order is the delivery order, not the production order.
            ids.Add((await Client.ProduceAfterAsync(topic, $"m{i}", 3_600_000 - (i * 1000), partition: i % 4)).Id());
        }

        var pages = new List<JsonElement>();
        string? next = null;
        do
        {
            var page = await Client.ListDelayedAsync(topic, limit: 10, after: next);
            Assert.Equal(25, page.GetProperty("count").GetInt64());
            Assert.Equal([0, 1, 2, 3], page.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()));
            pages.Add(page);
            next = page.TryGetProperty("next", out var n) ? n.GetString() : null;
        }
        while (next is not null && pages.Count < 10);

        Assert.Equal([10, 10, 5], pages.Select(p => p.GetProperty("messages").GetArrayLength()));
        var listed = pages.SelectMany(p => p.GetProperty("messages").EnumerateArray()).ToList();
        Assert.Equal(Enumerable.Reverse(ids), listed.Select(m => m.Id()));
        Assert.Equal(listed.Select(m => m.DeliverAt()).Order(), listed.Select(m => m.DeliverAt()));

        foreach (var id in ids)
        {
            Assert.Equal(HttpStatusCode.NoContent, (await Client.CancelAsync(topic, id)).Status);
        }

        var empty = await Client.ListDelayedAsync(topic);
        Assert.Equal(0, empty.GetProperty("count").GetInt64());
        Assert.Equal(0, empty.GetProperty("messages").GetArrayLength());
    }

    [Theory]
    [InlineData("Sluice-Deliver-After", "31536000001")] // a year and a millisecond
    [InlineData("Sluice-Deliver-After", "-5")]
    [InlineData("Sluice-Deliver-After", "soon")]
    [InlineData("Sluice-Deliver-At", "2999-01-01T00:00:00Z")]
    [InlineData("Sluice-Deliver-At", "2026-05-01T10:00:00")] // no zone
    [InlineData("Sluice-Deliver-At", "tomorrow")]
    public async Task BadDeliveryTime_Is400_AndStoresNothing(string header, string value)
    {
        var topic = SluiceApi.NewTopic("delay-bad");
        using (var put = await Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 2 })))
        {
            Assert.True(put.IsSuccessStatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("x") };
        request.Headers.Add(header, value);
        using var response = await Client.SendAsync(request);
        var body = await SluiceApi.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("urn:sluice:problem:invalid-parameter", body.GetProperty("type").GetString());
        Assert.Equal(new long[] { 0, 0 }, await Client.EndOffsetsAsync(topic));
        Assert.Equal(0, (await Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task BadDeliveryTimesInABatch_OrBothKindsAtOnce_Are400_AndStoreNothing()
    {
        var topic = SluiceApi.NewTopic("delay-bad-batch");
        await Client.ProduceAfterAsync(topic, "held", 3_600_000);

        var bodies = new object[]
        {
            new { messages = new object[] { new { value = "ok", deliverAfterMs = 1000 }, new { value = "no", deliverAt = "2999-01-01T00:00:00Z" } } },
            new { messages = new object[] { new { value = "no", deliverAt = true } } },
            new { messages = new object[] { new { value = "no", deliverAt = "2030-01-01T00:00:00Z", deliverAfterMs = 10 } } },
        };
        foreach (var b in bodies)
        {
            using var response = await Client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(b));
            var body = await SluiceApi.ReadJsonAsync(response);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("record ", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var both = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("x") };
        both.Headers.Add("Sluice-Deliver-After", "1000");
        both.Headers.Add("Sluice-Deliver-At", DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        using (var response = await Client.SendAsync(both))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.Equal(0, (await Client.EndOffsetsAsync(topic)).Sum());
        Assert.Equal(1, (await Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task PastDeliveryTime_IsAnOrdinaryProduce_DeliveredAtOnce()
    {
        var topic = SluiceApi.NewTopic("delay-past");
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var answer = await Client.ProduceDelayedAsync(topic, "past", new Dictionary<string, string> { ["Sluice-Deliver-At"] = "2020-01-01T00:00:00Z" });

        Assert.Equal(0, answer.GetProperty("offset").GetInt64());
        var message = Assert.Single(await Client.PullAsync(topic, "s", "delay-test", waitMs: 5000));
        Assert.Equal("past", message.Value());
        Assert.Null(message.DelayIdHeader());
    }

    [Fact]
    public async Task WebSocketProduce_DelayedFrames_GetADelayedReceipt_AndArriveWhenDue()
    {
        var topic = SluiceApi.NewTopic("delay-ws");
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var wait = TimeSpan.FromSeconds(30);
        await using (var ws = await WsClient.ConnectAsync(Client.BaseAddress!, $"/v1/topics/{topic}/ws/produce?envelope=json"))
        {
            await ws.SendJsonAsync(new { correlationId = "a", value = "framed", deliverAfterMs = 1500 });
            await ws.SendJsonAsync(new { correlationId = "b", value = "now" });
            await ws.SendJsonAsync(new { correlationId = "c", value = "bad", deliverAfterMs = -1 });
            var a = (await ws.ReceiveAsync(wait))!.Value;
            var b = (await ws.ReceiveAsync(wait))!.Value;
            var c = (await ws.ReceiveAsync(wait))!.Value;
            Assert.StartsWith("d:", a.Id(), StringComparison.Ordinal);
            Assert.True(a.TryGetProperty("deliverAt", out _));
            Assert.True(b.TryGetProperty("offset", out _));
            Assert.Equal(400, c.GetProperty("error").GetProperty("status").GetInt32());
        }

        // Raw frames take the connection's delay from the query.
        await using (var raw = await WsClient.ConnectAsync(Client.BaseAddress!, $"/v1/topics/{topic}/ws/produce?deliverAfterMs=1000"))
        {
            await raw.SendTextAsync("raw");
            Assert.StartsWith("d:", (await raw.ReceiveAsync(wait))!.Value.Id(), StringComparison.Ordinal);
        }

        var received = await Client.ReceiveAsync(topic, "s", 3, TimeSpan.FromSeconds(90));
        Assert.Equal(["framed", "now", "raw"], received.Select(r => r.Message.Value()).Order(StringComparer.Ordinal));
        Assert.NotNull(received.Single(r => r.Message.Value() == "framed").Message.DelayIdHeader());
    }

    [Fact]
    public async Task DeletingATopic_DeletesItsPendingMessages_AndTheirIdsNameNothingInTheNewTopic()
    {
        var topic = SluiceApi.NewTopic("delay-delete");
        var old = await Client.ProduceAfterAsync(topic, "old", 1500, partition: 0);
        using (var deleted = await Client.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        // The topic made again, with a delayed message at the same place: a new generation, and the old id names nothing.
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var fresh = await Client.ProduceAfterAsync(topic, "new", 500, partition: 0);
        Assert.NotEqual(old.Id(), fresh.Id());
        Assert.Equal(HttpStatusCode.Conflict, (await Client.CancelAsync(topic, old.Id())).Status);

        var received = await Client.ReceiveAsync(topic, "s", 1, TimeSpan.FromSeconds(60));
        Assert.Equal("new", received[0].Message.Value());
        Assert.Empty(await Client.PullAsync(topic, "s", "delay-test", waitMs: 2500));

        // On the embedded log the old holding topic's directory is gone too ("tests/ns/x" is held in "tests.ns.x.g{n}").
        if (!ServerProcess.OnKafka)
        {
            var held = topic.Replace('/', '.');
            var holdingDirs = Directory.GetDirectories(Path.Combine(fixture.Server.DataDir, "topics", "__sluice", "delayed"))
                .Select(Path.GetFileName).Where(d => d!.StartsWith(held + ".g", StringComparison.Ordinal));
            Assert.Equal([held + ".g2"], holdingDirs);
        }
    }
}
