using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

public sealed class ReplayTests(StreamingServer fixture, ITestOutputHelper output) : StreamingTests(fixture, output)
{
    [Fact]
    public async Task Read_ByOffsetAndByTime_WithoutASubscription()
    {
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, 5);
        await Task.Delay(50);
        var middle = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        await Fixture.ProduceManyAsync(topic, 5, start: 5);

        var page = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages?partition=0&offset=3&max=4"));
        Assert.Equal([3L, 4, 5, 6], page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("offset").GetInt64()));
        Assert.Equal(7, page.GetProperty("nextOffset").GetInt64());
        Assert.Equal("m3", page.GetProperty("messages")[0].GetProperty("value").GetString());
        Assert.False(page.GetProperty("messages")[0].TryGetProperty("ackId", out _));

        var fromTime = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages?from={Uri.EscapeDataString(middle.ToString("O"))}"));
        Assert.Equal(5, fromTime.GetProperty("messages")[0].GetProperty("offset").GetInt64());
        var fromMs = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages?from={middle.ToUnixTimeMilliseconds()}&max=2"));
        Assert.Equal([5L, 6], fromMs.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("offset").GetInt64()));

        // Reading consumed nothing: a subscription from earliest still gets all ten.
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        Assert.Equal(10, (await Client.DrainAsync(topic, "s", 10)).Count);
    }

    [Fact]
    public async Task Read_LargeAndSmall_AnswerTheSameShape_EveryValueWhole()
    {
        // A small read goes out whole in one piece, a large one flushes as it is written: both are the same JSON.
        var topic = await Fixture.NewTopicAsync();
        var large = Enumerable.Range(0, 30).Select(i => new { value = $"v{i}-" + new string((char)('a' + (i % 26)), 8_000) }).ToArray();
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages = large }) })
        {
            await SluiceApi.SendOkAsync(Client, request);
        }

        var all = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages?partition=0&offset=0&max=100"));
        Assert.Equal(large.Select(m => m.value), all.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("value").GetString()));
        Assert.Equal(30, all.GetProperty("nextOffset").GetInt64());

        var one = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages?partition=0&offset=29&max=1"));
        Assert.Equal(large[29].value, Assert.Single(one.GetProperty("messages").EnumerateArray()).GetProperty("value").GetString());
        Assert.Equal(30, one.GetProperty("nextOffset").GetInt64());
    }

    [Fact]
    public async Task Read_BadInput_IsAProblemOfTheRightKind()
    {
        var topic = await Fixture.NewTopicAsync(partitions: 2);
        await Fixture.ProduceManyAsync(topic, 2);
        await Expect($"/v1/topics/{topic}/messages", HttpStatusCode.BadRequest, "invalid-parameter");
        await Expect($"/v1/topics/{topic}/messages?partition=5", HttpStatusCode.NotFound, "partition-not-found");
        await Expect($"/v1/topics/{topic}/messages?partition=0&offset=99", HttpStatusCode.BadRequest, "offset-out-of-range");
        await Expect($"/v1/topics/{topic}/messages?partition=0&offset=0&from=0", HttpStatusCode.BadRequest, "invalid-parameter");
        await Expect($"/v1/topics/{topic}/messages?partition=0&from=soon", HttpStatusCode.BadRequest, "invalid-parameter");
        await Expect($"/v1/topics/tests/ns/none-{Guid.NewGuid():N}/messages", HttpStatusCode.NotFound, "topic-not-found");

        async Task Expect(string path, HttpStatusCode status, string kind)
        {
            using var response = await Client.GetAsync(path);
            var body = await SluiceApi.ReadJsonAsync(response);
            Assert.True(status == response.StatusCode, $"{path}: {(int)response.StatusCode} {body}");
            Assert.Equal("urn:sluice:problem:" + kind, body.GetProperty("type").GetString());
        }
    }

    [Fact]
    public async Task ReadAsSse_FollowsTheTail_AndResumesAfterLastEventId()
    {
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, 3);
        var path = $"/v1/topics/{topic}/messages?partition=0&offset=1";

        string? last;
        await using (var sse = await SseClient.OpenAsync(Fixture.BaseAddress, path))
        {
            var existing = await sse.MessagesAsync(2, Wait);
            Assert.Equal(["m1", "m2"], existing.Select(e => e.Json.GetProperty("value").GetString()));
            Assert.Equal("0:2", existing[^1].Id);

            // At the end it waits for new messages and sends them as they come.
            var next = sse.MessagesAsync(2, Wait);
            await Task.Delay(200);
            await Fixture.ProduceManyAsync(topic, 2, start: 3);
            Assert.Equal(["m3", "m4"], (await next).Select(e => e.Json.GetProperty("value").GetString()));
            last = sse.LastEventId;
        }

        await Fixture.ProduceManyAsync(topic, 1, start: 5);
        await using var resumed = await SseClient.OpenAsync(Fixture.BaseAddress, path, last);
        var after = await resumed.MessagesAsync(1, Wait);
        Assert.Equal("m5", after[0].Json.GetProperty("value").GetString());
    }

    [Fact]
    public async Task ReadAsSse_Idle_SendsKeepAlives_AndStillFollowsTheTailAfterThem()
    {
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, 1);
        await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/messages?partition=0");
        Assert.Equal("m0", (await sse.MessagesAsync(1, Wait))[0].Json.GetProperty("value").GetString());

        // The registry's clock interrupts the idle wait (500 ms here), and the stream waits again after each comment.
        for (var round = 1; round <= 2; round++)
        {
            var idle = await sse.NextAsync(TimeSpan.FromSeconds(5));
            Assert.Equal("keep-alive", idle!.Comment);
            await Fixture.ProduceManyAsync(topic, 1, start: round);
            var next = await sse.MessagesAsync(1, Wait);
            Assert.Equal($"m{round}", next[0].Json.GetProperty("value").GetString());
            Assert.Equal($"0:{round}", next[0].Id);
        }

        // One comment per interval, not one per turn of the loop: an interrupted wait must not leave the next one cut short.
        var comments = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        try
        {
            for (var left = until - DateTime.UtcNow; left > TimeSpan.Zero; left = until - DateTime.UtcNow)
            {
                if (await sse.NextAsync(left) is not { Comment: "keep-alive" })
                {
                    break;
                }

                comments++;
            }
        }
        catch (TimeoutException)
        {
            // The two seconds are over.
        }

        Assert.InRange(comments, 1, 10);
    }
}
