using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

public sealed class WebSocketTests(StreamingServer fixture, ITestOutputHelper output) : StreamingTests(fixture, output)
{
    [Fact]
    public async Task Consumer_WithPermits10_NeverHoldsMoreThan10Unacked_AndGetsEverything()
    {
        const int Total = 60;
        var topic = await Fixture.NewTopicAsync(partitions: 2);
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        await Fixture.ProduceManyAsync(topic, Total);

        // No window until the client grants one.
        await using var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/ws?permits=0");
        await Assert.ThrowsAsync<TimeoutException>(() => ws.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        await ws.SendJsonAsync(new { permits = 10 });

        var unacked = new List<string>();
        var values = new HashSet<string>();
        var maxUnacked = 0;
        var stalls = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (values.Count < Total)
        {
            JsonElement frame;
            try
            {
                frame = (await ws.ReceiveAsync(TimeSpan.FromMilliseconds(400)))!.Value;
            }
            catch (TimeoutException)
            {
                // Quiet: either the window is full (the server waits for acks) or the machine is slow.
                Assert.True(DateTime.UtcNow < deadline, $"got {values.Count} of {Total} within 30 s");
                if (unacked.Count < 10)
                {
                    continue;
                }

                // Full: ack half of what is held.
                stalls++;
                var acking = unacked.Take(5).ToList();
                unacked.RemoveRange(0, 5);
                await ws.SendJsonAsync(new { ack = acking });
                continue;
            }

            if (frame.TryGetProperty("ackId", out var ackId))
            {
                unacked.Add(ackId.GetString()!);
                values.Add(frame.GetProperty("value").GetString()!);
                maxUnacked = Math.Max(maxUnacked, unacked.Count);
                Assert.True(unacked.Count <= 10, $"{unacked.Count} unacked on the socket with permits 10");
            }
            else
            {
                Assert.True(frame.GetProperty("acked").GetInt32() > 0, frame.ToString());
            }
        }

        Assert.Equal(10, maxUnacked);
        Assert.True(stalls >= 5, $"the window stopped the stream {stalls} times");
        Assert.Equal(Total, values.Count);
    }

    [Fact]
    public async Task Consumer_BatchesLargerThanTheFrameBuffer_ArriveWholeAndInOrder_AndAcksAreAnswered()
    {
        // 40 messages of 20 KB in one partition: a send batch of them is 800 KB, far past the 64 KiB the server holds
        // before it writes, so frames are held, written out when the buffer fills, and the rest with the last frame.
        var topic = await Fixture.NewTopicAsync();
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        var values = Enumerable.Range(0, 40).Select(i => $"{i:D2}-" + new string((char)('a' + (i % 26)), 20_000)).ToArray();
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages = values.Select(v => new { value = v }) }) })
        {
            await SluiceApi.SendOkAsync(Client, request);
        }

        await using var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/ws?permits=100");
        var received = new List<JsonElement>();
        while (received.Count < values.Length)
        {
            received.Add((await ws.ReceiveAsync(Wait))!.Value);
        }

        Assert.Equal(values, received.Select(f => f.GetProperty("value").GetString()));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), received.Select(f => f.GetProperty("offset").GetInt64()));

        // The answer to an ack is written outside a batch: it comes at once.
        await ws.SendJsonAsync(new { ack = received.Select(f => f.GetProperty("ackId").GetString()) });
        var answer = (await ws.ReceiveAsync(Wait))!.Value;
        Assert.Equal(40, answer.GetProperty("acked").GetInt32());
    }

    [Fact]
    public async Task Consumer_AckFramesPastTheFirstRead_AreReadWhole_AndAFrameOverTheLimitCloses()
    {
        var topic = await Fixture.NewTopicAsync();
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        await Fixture.ProduceManyAsync(topic, 40);
        await using var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/ws?permits=100");
        var ids = new List<string>();
        while (ids.Count < 40)
        {
            ids.Add((await ws.ReceiveAsync(Wait))!.Value.GetProperty("ackId").GetString()!);
        }

        // ~16 KB: the server reads it in 4 KiB pieces into a growing buffer; every id in it is read.
        var unknown = Enumerable.Range(0, 400).Select(i => $"not-an-ack-id-{i:D8}").ToList();
        await ws.SendJsonAsync(new { ack = ids.Concat(unknown) });
        var answer = (await ws.ReceiveAsync(Wait))!.Value;
        Assert.Equal(40, answer.GetProperty("acked").GetInt32());
        Assert.Equal(unknown, answer.GetProperty("unknown").EnumerateArray().Select(e => e.GetString()));

        // Past the 4 MiB a client frame may have: a problem frame, then the server closes with 1009.
        await ws.SendTextAsync("{\"ack\":[\"" + new string('a', 4 * 1024 * 1024) + "\"]}");
        var problem = (await ws.ReceiveAsync(Wait))!.Value;
        Assert.Equal("urn:sluice:problem:invalid-parameter", problem.GetProperty("error").GetProperty("type").GetString());
        Assert.Null(await ws.ReceiveAsync(Wait));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, ws.Socket.CloseStatus);
    }

    [Fact]
    public async Task Consumer_NackOnTheSocket_Redelivers_AndCloseReleasesWhatItHeld()
    {
        var topic = await Fixture.NewTopicAsync();
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        await Fixture.ProduceManyAsync(topic, 3);

        await using (var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/ws?permits=1"))
        {
            var first = (await ws.ReceiveAsync(Wait))!.Value;
            Assert.Equal("m0", first.GetProperty("value").GetString());
            await ws.SendJsonAsync(new { nack = new[] { first.GetProperty("ackId").GetString() }, delayMs = 0 });
            // The nack's answer and the redelivery it allows come in either order: the redelivery is sent as soon as the
            // engine releases the message, the answer once the nack call returns.
            var frames = new[] { (await ws.ReceiveAsync(Wait))!.Value, (await ws.ReceiveAsync(Wait))!.Value };
            var answer = Assert.Single(frames, f => f.TryGetProperty("nacked", out _));
            Assert.Equal(1, answer.GetProperty("nacked").GetInt32());
            var again = Assert.Single(frames, f => f.TryGetProperty("value", out _));
            Assert.Equal("m0", again.GetProperty("value").GetString());
            Assert.Equal(2, again.GetProperty("deliveryAttempt").GetInt32());

            // A malformed frame: a problem frame, then the server closes.
            await ws.SendTextAsync("{\"ack\": 5}");
            var problem = (await ws.ReceiveAsync(Wait))!.Value;
            Assert.Equal("urn:sluice:problem:malformed-json", problem.GetProperty("error").GetProperty("type").GetString());
            Assert.Null(await ws.ReceiveAsync(Wait));
            Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, ws.Socket.CloseStatus);
        }

        // The closed socket's unacked message went back at once: a pull gets all three now, not after the deadline.
        var drained = await Client.DrainAsync(topic, "s", 3, consumer: "puller");
        Assert.Equal(["m0", "m1", "m2"], drained.Select(m => m.Value()).Order());
    }

    // Writes 15 MiB to one partition: librdkafka's mock cluster keeps only the newest 5 MiB of a partition.
    [Fact]
    [Trait("Backend", "EmbeddedOnly")]
    public async Task StalledReader_IsDisconnected_AndItsMessagesRedeliveredToAnotherConsumer()
    {
        var topic = await NewTopicPastSocketBuffersAsync();

        // Connected with a large window, and never reading.
        await using var stalled = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/ws?permits=1000");
        await SseTests.WaitUntilAsync(() => Task.FromResult(Fixture.Server.Output.Contains("Closed a slow WebSocket consumer", StringComparison.Ordinal)));
        await AssertAnotherConsumerGetsEveryMessageAsync(topic);
    }

    [Fact]
    public async Task Produce_ReceiptsComeBackInOrder_AndEveryReceiptedMessageIsReadable()
    {
        const int Total = 500;
        var topic = await Fixture.NewTopicAsync(partitions: 3);
        await using var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/ws/produce?envelope=json");

        // Pipelined: every frame is sent before any receipt is read.
        var send = Task.Run(async () =>
        {
            for (var i = 0; i < Total; i++)
            {
                if (i == 100)
                {
                    await ws.SendTextAsync("{\"correlationId\":\"bad\",\"value\":\"x\",\"valueBase64\":\"eA==\"}");
                }

                await ws.SendJsonAsync(new { correlationId = $"c{i}", key = $"k{i % 7}", value = $"v{i}", headers = new Dictionary<string, string> { ["n"] = $"{i}" } });
            }
        });

        var receipts = new List<JsonElement>();
        for (var i = 0; i < Total + 1; i++)
        {
            receipts.Add((await ws.ReceiveAsync(Wait))!.Value);
        }

        await send;
        Assert.Equal(Enumerable.Range(1, Total + 1).Select(i => (long)i), receipts.Select(r => r.GetProperty("seq").GetInt64()));
        var bad = receipts[100];
        Assert.Equal("bad", bad.GetProperty("correlationId").GetString());
        Assert.Equal("urn:sluice:problem:invalid-parameter", bad.GetProperty("error").GetProperty("type").GetString());
        var good = receipts.Where((_, i) => i != 100).ToList();
        Assert.Equal(Enumerable.Range(0, Total).Select(i => $"c{i}"), good.Select(r => r.GetProperty("correlationId").GetString()));

        // Every receipted message is at its offset, with its value and headers; per partition, offsets follow frame order.
        foreach (var group in good.Select((r, i) => (Receipt: r, Index: i)).GroupBy(x => x.Receipt.GetProperty("partition").GetInt32()))
        {
            var offsets = group.Select(x => x.Receipt.GetProperty("offset").GetInt64()).ToList();
            Assert.Equal(offsets.Order(), offsets);
            var read = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages?partition={group.Key}&offset=0&max=1000"));
            var byOffset = read.GetProperty("messages").EnumerateArray().ToDictionary(m => m.GetProperty("offset").GetInt64());
            foreach (var (receipt, index) in group)
            {
                var message = byOffset[receipt.GetProperty("offset").GetInt64()];
                Assert.Equal($"v{index}", message.GetProperty("value").GetString());
                Assert.Equal($"{index}", message.GetProperty("headers").GetProperty("n").GetString());
                Assert.Equal(receipt.GetProperty("id").GetString(), message.GetProperty("id").GetString());
            }
        }
    }

    [Fact]
    public async Task Produce_RawFrames_AreTheValue()
    {
        var topic = await Fixture.NewTopicAsync();
        await using var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/ws/produce?key=k1");
        await ws.SendTextAsync("hello");
        await ws.SendBinaryAsync([0xff, 0x00, 0x01]);
        var r1 = (await ws.ReceiveAsync(Wait))!.Value;
        var r2 = (await ws.ReceiveAsync(Wait))!.Value;
        Assert.Equal(0, r1.GetProperty("offset").GetInt64());
        Assert.Equal(1, r2.GetProperty("offset").GetInt64());

        var read = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages"));
        var messages = read.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal("hello", messages[0].GetProperty("value").GetString());
        Assert.Equal("k1", messages[0].GetProperty("key").GetString());
        Assert.Equal(Convert.ToBase64String([0xff, 0x00, 0x01]), messages[1].GetProperty("value").GetString());
        Assert.Equal("base64", messages[1].GetProperty("valueEncoding").GetString());
    }

    [Fact]
    public async Task Produce_WithoutAKey_StoresNoKey()
    {
        var topic = await Fixture.NewTopicAsync();
        await using (var raw = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/ws/produce"))
        {
            await raw.SendTextAsync("plain");
            Assert.NotNull(await raw.ReceiveAsync(Wait));
        }

        await using (var enveloped = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/ws/produce?envelope=json"))
        {
            await enveloped.SendTextAsync("""{"value":"enveloped"}""");
            Assert.NotNull(await enveloped.ReceiveAsync(Wait));
        }

        var read = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/messages"));
        var messages = read.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(2, messages.Count);
        Assert.All(messages, m => Assert.False(m.TryGetProperty("key", out _), m.ToString()));
    }

    [Fact]
    public async Task PlainGet_OnAWebSocketRoute_IsAProblem()
    {
        var topic = await Fixture.NewTopicAsync();
        using var response = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/ws");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        _ = Encoding.UTF8;
    }
}
