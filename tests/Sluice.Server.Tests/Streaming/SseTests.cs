using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

public sealed class SseTests(StreamingServer fixture, ITestOutputHelper output) : StreamingTests(fixture, output)
{
    [Fact]
    public async Task Exclusive_DisconnectAndResumeWithLastEventId_SeesEveryMessageOnceInOrder()
    {
        const int Total = 300;
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, Total);
        var path = $"/v1/topics/{topic}/subscriptions/s/events?type=exclusive&position=earliest";

        var seen = new List<string>();
        var redelivered = 0;
        string? lastEventId = null;

        // Drop the connection three times at arbitrary points, then read to the end. The server has written (and may
        // have flushed into the socket) events after the last one read: those must come again, once, in order.
        foreach (var take in new[] { 7, 50, 1, Total })
        {
            await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, path, lastEventId);
            var events = await sse.MessagesAsync(Math.Min(take, Total - seen.Count), Wait);
            foreach (var e in events)
            {
                seen.Add(e.Json.GetProperty("value").GetString()!);
                redelivered += e.Json.GetProperty("deliveryAttempt").GetInt32() > 1 ? 1 : 0;
                Assert.Equal(e.Json.GetProperty("ackId").GetString(), e.Id!.Split('/', 2)[0]);
            }

            // Ack what was read, as a client does (the stream itself does not ack in explicit mode).
            await Client.AckAsync(topic, "s", events.Select(e => e.Json.GetProperty("ackId").GetString()!));
            lastEventId = sse.LastEventId;
            if (seen.Count == Total)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(0, Total).Select(i => $"m{i}"), seen);

        // The server had written past what was read (a batch is up to 100): those were released on resume, not lost
        // until their ack deadline.
        Assert.True(redelivered > 0, "some events written but not read came again after a resume");
    }

    [Fact]
    public async Task Shared_DisconnectAndResumeWithLastEventId_SeesEveryMessageAtLeastOnce()
    {
        const int Total = 200;
        var topic = await Fixture.NewTopicAsync(partitions: 4);
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        await Fixture.ProduceManyAsync(topic, Total);
        var path = $"/v1/topics/{topic}/subscriptions/s/events";

        var seen = new HashSet<string>();
        string? lastEventId = null;
        foreach (var take in new[] { 30, 30, Total })
        {
            await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, path, lastEventId);
            var events = new List<SseEvent>();
            while (events.Count < take && seen.Count < Total)
            {
                var e = (await sse.MessagesAsync(1, Wait))[0];
                events.Add(e);
                seen.Add(e.Json.GetProperty("value").GetString()!);
            }

            await Client.AckAsync(topic, "s", events.Select(e => e.Json.GetProperty("ackId").GetString()!));
            lastEventId = sse.LastEventId;
            if (seen.Count == Total)
            {
                break;
            }
        }

        Assert.Equal(Total, seen.Count);
    }

    [Fact]
    public async Task AckAuto_AcksWhatWasWritten_AndSendsRetryAndKeepAlive()
    {
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, 20);
        await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/events?ack=auto&position=earliest");

        var first = await sse.NextAsync(Wait);
        Assert.Equal(2000, first!.Retry);
        var events = await sse.MessagesAsync(20, Wait);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), events.Select(e => e.Json.GetProperty("value").GetString()));
        Assert.All(events, e => Assert.Equal(1, e.Json.GetProperty("deliveryAttempt").GetInt32()));

        // Idle: a comment within the keep-alive interval (500 ms here).
        var idle = await sse.NextAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("keep-alive", idle!.Comment);

        // Everything written was acked: nothing in flight, nothing left.
        var info = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
        Assert.Equal(0, info.GetProperty("inFlight").GetInt32());
        Assert.Equal(0, info.GetProperty("backlog").GetInt64());
    }

    [Fact]
    public async Task AfterAKeepAlive_TheNextEventsCarryTheirOwnAckIds_WhichAckThem()
    {
        // A stream that goes quiet drops the formatter that writes its ack ids at the keep-alive and makes a new one at
        // its next message: the events after it must still carry ids that name their own deliveries.
        var topic = await Fixture.NewTopicAsync();
        await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/events?type=exclusive&position=earliest");
        await Fixture.ProduceManyAsync(topic, 3);
        var before = await sse.MessagesAsync(3, Wait);

        var idle = await sse.NextAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(idle);
        Assert.Equal("keep-alive", idle.Comment);

        await Fixture.ProduceManyAsync(topic, 3, start: 3);
        var after = await sse.MessagesAsync(3, Wait);
        var events = before.Concat(after).ToList();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"m{i}"), events.Select(e => e.Json.GetProperty("value").GetString()));

        // The id line is the data's ack id and the stream's consumer id, on both sides of the keep-alive.
        var consumer = before[0].Id![(before[0].Id!.IndexOf('/', StringComparison.Ordinal) + 1)..];
        Assert.All(events, e => Assert.Equal($"{e.Json.GetProperty("ackId").GetString()}/{consumer}", e.Id));
        Assert.Equal(6, events.Select(e => e.Json.GetProperty("ackId").GetString()).Distinct().Count());

        // Every id acks its own delivery: nothing is left in flight or unread.
        var ack = await Client.AckAsync(topic, "s", events.Select(e => e.Json.GetProperty("ackId").GetString()!));
        Assert.Equal(6, ack.GetProperty("acked").GetInt32());
        var info = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
        Assert.Equal(0, info.GetProperty("inFlight").GetInt32());
        Assert.Equal(0, info.GetProperty("backlog").GetInt64());
    }

    [Fact]
    public async Task Seek_ByOffsetAndByTime_ConnectedStreamContinuesFromThere()
    {
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, 5);
        await Task.Delay(50);
        var middle = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        await Fixture.ProduceManyAsync(topic, 5, start: 5);

        await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/events?type=exclusive&position=earliest");
        var all = await sse.MessagesAsync(10, Wait);
        Assert.Equal(9, all[^1].Json.GetProperty("offset").GetInt64());

        await Seek(new { offset = 2, partition = 0 });
        var afterOffset = await sse.MessagesAsync(8, Wait);
        Assert.Equal(Enumerable.Range(2, 8).Select(i => (long)i), afterOffset.Select(e => e.Json.GetProperty("offset").GetInt64()));

        await Seek(new { time = middle.ToString("O") });
        var afterTime = await sse.MessagesAsync(5, Wait);
        Assert.Equal(Enumerable.Range(5, 5).Select(i => (long)i), afterTime.Select(e => e.Json.GetProperty("offset").GetInt64()));

        // Acks of ids from before a seek are unknown, not applied.
        var ack = await Client.AckAsync(topic, "s", [all[0].Json.GetProperty("ackId").GetString()!]);
        Assert.Equal(0, ack.GetProperty("acked").GetInt32());

        async Task Seek(object position)
        {
            using var response = await Client.PostAsync($"/v1/topics/{topic}/subscriptions/s/seek", SluiceApi.Json(new { position }));
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
    }

    // Writes 15 MiB to one partition: librdkafka's mock cluster keeps only the newest 5 MiB of a partition.
    [Fact]
    [Trait("Backend", "EmbeddedOnly")]
    public async Task StalledReader_IsDisconnected_AndItsMessagesRedeliveredToAnotherConsumer()
    {
        var topic = await NewTopicPastSocketBuffersAsync();
        using var socket = await StallAsync($"/v1/topics/{topic}/subscriptions/s/events");

        // The server gives up on it after the slow-consumer timeout and releases what it held (the only consumer so
        // far, it held what filled the socket buffers); another consumer (a pull) then gets every message, those the
        // stalled one held as redeliveries, well before their 30 s ack deadline.
        await WaitUntilAsync(() => Task.FromResult(Fixture.Server.Output.Contains($"of {topic} subscription s:", StringComparison.Ordinal)));
        await AssertAnotherConsumerGetsEveryMessageAsync(topic);

        // And the stalled connection was closed by the server: reading on now reaches its end (or a reset).
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // Reset: closed too.
        }

    }

    // A raw socket that sends the request, reads the head of the answer, then stops reading.
    private async Task<Socket> StallAsync(string path)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 64 * 1024 };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, Fixture.Server.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"));
            var buffer = new byte[4096];
            var head = await socket.ReceiveAsync(buffer);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, head));
            return socket;
        }
        catch
        {
            // Not the caller's to dispose when it fails here: an open stream would stay on the shared server.
            socket.Dispose();
            throw;
        }
    }

    // As above with ack=auto, whose new messages are held rather than leased: what the stream wrote before it stalled is
    // acked, and the rest (the event whose flush never finished and what it took after) must come back at once, not
    // stay held by a stream that is gone.
    [Fact]
    [Trait("Backend", "EmbeddedOnly")]
    public async Task StalledReader_AckAuto_WhatItHeldUnwritten_GoesToAnotherConsumer()
    {
        var topic = await NewTopicPastSocketBuffersAsync();
        using var socket = await StallAsync($"/v1/topics/{topic}/subscriptions/s/events?ack=auto");
        await WaitUntilAsync(() => Task.FromResult(Fixture.Server.Output.Contains($"of {topic} subscription s:", StringComparison.Ordinal)));

        // Nothing stays in flight once the stream is gone; what was not acked is every message another consumer gets,
        // the unwritten ones it held among them as second deliveries.
        var inFlight = -1L;
        var backlog = -1L;
        await WaitUntilAsync(async () =>
        {
            var info = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
            (inFlight, backlog) = (info.GetProperty("inFlight").GetInt32(), info.GetProperty("backlog").GetInt64());
            return inFlight == 0;
        });
        Assert.InRange(backlog, 1, PastSocketBuffersCount - 1);
        var drained = await Client.DrainAsync(topic, "s", (int)backlog, consumer: "other");
        Assert.Equal(backlog, drained.Select(m => m.Value()[..3]).Distinct().Count());
        Assert.Contains(drained, m => m.GetProperty("deliveryAttempt").GetInt32() == 2);
        var after = await SluiceApi.ReadJsonAsync(await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
        Assert.Equal(0, after.GetProperty("backlog").GetInt64());
    }

    [Fact]
    public async Task SameConsumer_NewStreamEndsTheOldOne_AndDeletingTheSubscriptionEndsTheStream()
    {
        var topic = await Fixture.NewTopicAsync();
        await Fixture.ProduceManyAsync(topic, 2);
        var path = $"/v1/topics/{topic}/subscriptions/s/events?type=exclusive&position=earliest&consumer=worker-1";
        await using var first = await SseClient.OpenAsync(Fixture.BaseAddress, path);
        Assert.Equal("m0", (await first.MessagesAsync(1, Wait))[0].Json.GetProperty("value").GetString());

        // The same consumer again (a reconnect the server has not noticed as such): the old stream ends, the new one
        // is accepted by the exclusive subscription.
        await using var second = await SseClient.OpenAsync(Fixture.BaseAddress, path);
        Assert.Null(await DrainAsync(first));
        await Fixture.ProduceManyAsync(topic, 1, start: 2);
        Assert.Contains("m2", (await second.MessagesAsync(1, Wait)).Select(e => e.Json.GetProperty("value").GetString()));

        using var deleted = await Client.DeleteAsync($"/v1/topics/{topic}/subscriptions/s");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Null(await DrainAsync(second));

        static async Task<SseEvent?> DrainAsync(SseClient sse)
        {
            while (await sse.NextAsync(Wait) is { } e)
            {
                _ = e;
            }

            return null;
        }
    }

    [Fact]
    public async Task Exclusive_HeldByAnotherConsumer_IsAConflict_AndAnExistingTypeIsNotChanged()
    {
        var topic = await Fixture.NewTopicAsync();
        await using var holder = await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/events?type=exclusive");

        using var second = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal("urn:sluice:problem:subscription-busy", (await SluiceApi.ReadJsonAsync(second)).GetProperty("type").GetString());

        using var otherType = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events?type=shared&consumer=x", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Conflict, otherType.StatusCode);
        Assert.Contains("exists with type exclusive", (await SluiceApi.ReadJsonAsync(otherType)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamsPerSubscription_AreLimited_WithAProblem()
    {
        var topic = await Fixture.NewTopicAsync();
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared" });
        var open = new List<SseClient>();
        try
        {
            for (var i = 0; i < StreamingServer.MaxStreamsPerSubscription; i++)
            {
                open.Add(await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/events"));
            }

            using var response = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events");
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await SluiceApi.ReadJsonAsync(response);
            Assert.Equal("urn:sluice:problem:subscription-stream-limit", problem.GetProperty("type").GetString());
        }
        finally
        {
            foreach (var sse in open)
            {
                await sse.DisposeAsync();
            }
        }

        // Closing one frees its place (the server notices the disconnect promptly).
        await WaitUntilAsync(async () =>
        {
            using var r = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events", HttpCompletionOption.ResponseHeadersRead);
            return r.StatusCode == HttpStatusCode.OK;
        });
    }

    [Fact]
    public async Task BadQuery_IsAProblem_BeforeTheStreamStarts()
    {
        var topic = await Fixture.NewTopicAsync();
        using var badAck = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events?ack=sometimes");
        Assert.Equal(HttpStatusCode.BadRequest, badAck.StatusCode);
        using var badType = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events?type=fanout");
        Assert.Equal(HttpStatusCode.BadRequest, badType.StatusCode);
        using var badPosition = await Client.GetAsync($"/v1/topics/{topic}/subscriptions/s/events?position=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badPosition.StatusCode);
        var problem = await SluiceApi.ReadJsonAsync(badPosition);
        Assert.Equal("urn:sluice:problem:invalid-parameter", problem.GetProperty("type").GetString());
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the condition did not hold within {timeout ?? TimeSpan.FromSeconds(10)}");
            }

            await Task.Delay(100);
        }
    }
}
