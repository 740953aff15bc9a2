using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Beam;

/// <summary>Pulsar Beam's produce (firehose) and consume (poll, SSE) routes, from the facts its clients depend on.</summary>
public sealed class BeamProduceConsumeTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task FirehoseV2_ThenPoll_AnswersBeamsBatchShape_AndThen204()
    {
        var topic = $"acme/ns/{Names.Unique("fh")}";
        await _client.FirehoseAsync(topic, "one");
        await _client.FirehoseAsync(topic, "two", persistent: "p");

        var answer = await _client.PollAsync(topic, "poller1", batchSize: 10, perMessageTimeoutMs: 1000);
        Assert.NotNull(answer);
        var a = answer.Value;
        Assert.Equal(10, a.GetProperty("limit").GetInt32());
        Assert.Equal(2, a.GetProperty("size").GetInt32());
        var messages = a.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["one", "two"], BeamApi.Payloads(answer).Order());
        foreach (var m in messages)
        {
            Assert.Equal("persistent://" + topic, m.GetProperty("topic").GetString());
            Assert.Equal("", m.GetProperty("key").GetString());
            Assert.Matches(@"^\d+:\d+$", m.GetProperty("messageId").GetString()!);
            Assert.True(m.GetProperty("publishTime").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
            Assert.True(m.GetProperty("eventTime").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        }

        // Acked once that answer was written: the same subscription has nothing more.
        Assert.Null(await _client.PollAsync(topic, "poller1"));
    }

    [Fact]
    public async Task Poll_BatchSize_LimitsTheAnswer_AndTheRestComesNext()
    {
        var topic = $"acme/ns/{Names.Unique("batch")}";
        for (var i = 0; i < 5; i++)
        {
            await _client.FirehoseAsync(topic, "m" + i);
        }

        var first = await _client.PollAsync(topic, "batcher", batchSize: 3, perMessageTimeoutMs: 1000);
        Assert.Equal(3, first!.Value.GetProperty("size").GetInt32());
        var rest = await _client.PollAllAsync(topic, "batcher", 2);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], BeamApi.Payloads(first).Concat(rest).Order());
    }

    [Fact]
    public async Task Poll_WithoutSubscriptionName_UsesATemporarySubscriptionFromTheEarliest_AndRemovesIt()
    {
        var topic = $"acme/ns/{Names.Unique("tmp")}";
        await _client.FirehoseAsync(topic, "x");

        // Each poll without a name reads from the start again (a new subscription), as Beam's did.
        Assert.Equal(["x"], BeamApi.Payloads(await _client.PollAsync(topic, null)));
        Assert.Equal(["x"], BeamApi.Payloads(await _client.PollAsync(topic, null)));
        var subscriptions = await _client.GetStringAsync($"/v1/topics/{topic}/subscriptions");
        Assert.DoesNotContain("NonResumable", subscriptions, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Poll_ClientGoneBeforeTheAnswer_LosesNothing()
    {
        var topic = $"acme/ns/{Names.Unique("gone")}";

        // A ten-minute ack deadline: the messages must come back because they were released, not because it passed.
        await _client.PutSubscriptionAsync(topic, "survivor", new { type = "exclusive", position = "earliest", ackDeadlineMs = 600_000 });
        for (var i = 0; i < 3; i++)
        {
            await _client.FirehoseAsync(topic, "kept" + i);
        }

        // The poll takes the three at once, then waits up to 20 s for a fourth; the client leaves during that wait. Beam had
        // acked the three already and they were lost; here they are released when the answer cannot be written.
        using (var leaving = fixture.NewClient())
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.GetAsync($"/v2/poll/p/{topic}?SubscriptionName=survivor&batchSize=10&perMessageTimeoutMs=20000", cts.Token));
        }

        var all = await _client.PollAllAsync(topic, "survivor", 3);
        Assert.Equal(["kept0", "kept1", "kept2"], all.Order());
    }

    [Fact]
    public async Task FirehoseV1_TakesTheTopicFromTopicFn_AndTopicFnOverridesTheV2Path()
    {
        var topic = $"acme/ns/{Names.Unique("fn")}";
        var other = $"acme/ns/{Names.Unique("path")}";
        using (var v1 = new HttpRequestMessage(HttpMethod.Post, "/v1/firehose") { Content = new StringContent("via-v1") })
        {
            v1.Headers.Add("TopicFn", "persistent://" + topic);
            Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(v1)).StatusCode);
        }

        using (var v2 = new HttpRequestMessage(HttpMethod.Post, $"/v2/firehose/persistent/{other}") { Content = new StringContent("via-v2") })
        {
            v2.Headers.Add("TopicFn", "persistent://" + topic);
            Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(v2)).StatusCode);
        }

        Assert.Equal(["via-v1", "via-v2"], (await _client.PollAllAsync(topic, "fnsub", 2)).Order());
        Assert.Empty(await _client.EndOffsetsAsync(other));
    }

    [Fact]
    public async Task Firehose_GzipBody_IsDecoded_AndModeAsync_Answers200()
    {
        var topic = $"acme/ns/{Names.Unique("gz")}";
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes("unzipped payload"));
        }

        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentEncoding.Add("gzip");
        Assert.Equal(HttpStatusCode.OK, (await _client.PostAsync($"/v2/firehose/p/{topic}", content)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.PostAsync($"/v2/firehose/p/{topic}?mode=async", new StringContent("async one"))).StatusCode);

        Assert.Equal(["async one", "unzipped payload"], (await _client.PollAllAsync(topic, "gzsub", 2)).Order());
    }

    [Fact]
    public async Task Firehose_IncludeHeaders_WrapsHeadersAndBody_WithoutTheToken()
    {
        var topic = $"acme/ns/{Names.Unique("hdr")}";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/firehose/p/{topic}?includeHeaders=true") { Content = new StringContent("the body") };
        request.Headers.Add("X-Custom-thing", "v1");
        request.Headers.Add("Authorization", "Bearer not-to-be-stored");
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(request)).StatusCode);

        var wrapped = JsonDocument.Parse((await _client.PollAllAsync(topic, "hdrsub", 1)).Single()).RootElement;
        Assert.Equal("the body", wrapped.GetProperty("body").GetString());
        Assert.Equal("v1", wrapped.GetProperty("headers").GetProperty("X-Custom-Thing")[0].GetString());
        Assert.False(wrapped.GetProperty("headers").TryGetProperty("Authorization", out _));
    }

    [Theory]
    [InlineData("/v2/firehose/nonpersistent/acme/ns/t", "POST", "supported persistent types are persistent, p, non-persistent, np")]
    [InlineData("/v1/firehose", "POST", "missing topic parts")]
    [InlineData("/v2/poll/p/acme/ns/t?SubscriptionName=abc", "GET", "subscription name must be more than 4 characters")]
    [InlineData("/v2/poll/p/acme/ns/t?SubscriptionType=round-robin", "GET", "unsupported subscription type round-robin")]
    [InlineData("/v2/sse/p/acme/ns/t?SubscriptionInitialPosition=middle", "GET", "invalid subscription initial position middle")]
    [InlineData("/v2/poll/p/acme/ns/bad$name", "GET", null)]
    public async Task BadRequest_Gets422_WithBeamsErrorShape(string path, string method, string? message)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? new StringContent("x") : null };
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await SluiceApi.ReadJsonAsync(response)).GetProperty("error").GetString();
        Assert.False(string.IsNullOrEmpty(error));
        if (message is not null)
        {
            Assert.Equal(message, error);
        }
    }

    [Fact]
    public async Task Firehose_OverMaxMessageBytes_Gets413_InBeamsShape()
    {
        using var response = await _client.PostAsync($"/v2/firehose/p/acme/ns/{Names.Unique("big")}", new ByteArrayContent(new byte[CompatServer.MaxMessageBytes + 1]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.True((await SluiceApi.ReadJsonAsync(response)).TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Status_Answers200()
        => Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/status")).StatusCode);

    [Fact]
    public async Task Sse_StreamsIdAndRawData_OneDataLinePerPayloadLine()
    {
        var topic = $"acme/ns/{Names.Unique("sse")}";
        await _client.FirehoseAsync(topic, "first");
        await _client.FirehoseAsync(topic, "line one\nline two");

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await _client.GetAsync($"/v2/sse/p/{topic}?SubscriptionName=ssesub&SubscriptionInitialPosition=earliest", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = new[] { await reader.NextAsync(cts.Token), await reader.NextAsync(cts.Token) };
        Assert.Equal(["first", "line one\nline two"], events.Select(e => e.Data).Order());
        Assert.All(events, e => Assert.Matches(@"^\d+:\d+$", e.Id!));
    }

    [Fact]
    [Trait("Backend", "EmbeddedOnly")] // librdkafka's mock keeps ~5 MiB per partition: less than a connection's buffers take
    public async Task Sse_ClientThatLeavesMidStream_GetsWhatWasNotWrittenToItAgainAtOnce_WithNoGap()
    {
        // One partition of 400 messages of 60 KB (24 MB): far more than a loopback connection's buffers hold (~10 MB).
        var topic = $"acme/ns/{Names.Unique("leave")}";
        await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 }));
        await _client.PutSubscriptionAsync(topic, "steady", new { type = "exclusive", position = "earliest", ackDeadlineMs = 600_000 });
        const int Count = 400;
        var payload = new string('p', 60 * 1024);
        for (var i = 0; i < Count; i++)
        {
            await _client.FirehoseAsync(topic, $"{i:D4}{payload}");
        }

        // The first client reads one event and leaves while the server is blocked writing the rest into its full
        // connection. What was flushed to it counts as delivered; what the server had taken from the subscription but not
        // written is released at once. Beam acked each message before writing it: those were lost.
        var url = $"/v2/sse/p/{topic}?SubscriptionName=steady";
        using (var leaving = fixture.NewClient())
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            using var response = await leaving.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
            Assert.StartsWith("0000", (await reader.NextAsync(cts.Token)).Data, StringComparison.Ordinal);

            // Leave once the server is stuck writing into the full connection with messages taken and not yet written.
            await WaitUntilStuckAsync(topic, "steady");
        }

        // Taken from the subscription and not written: given back at once, not at the ten-minute ack deadline (Beam
        // acked them). What was flushed to the client is acked: the committed offset.
        var committed = await WaitUntilReleasedAsync(topic, "steady");
        Assert.True(committed > 0, "the event the first client read was not acked");

        // The next client (at once: a Beam client of an exclusive subscription is served on reconnect) gets everything
        // from there to the end, with no gap.
        var seen = new SortedSet<int>();
        using (var next = fixture.NewClient())
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            using var response = await next.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
            while (!seen.Contains(Count - 1))
            {
                seen.Add(int.Parse((await reader.NextAsync(cts.Token)).Data[..4], System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        Assert.Equal(Enumerable.Range((int)committed, Count - (int)committed), seen);
    }

    // Nothing in flight any more; the committed offset of the one partition. Within 15 s: the consumer's session
    // (subscriptions:consumerSessionTimeoutMs, 30 s) would release its messages too, and the check would prove nothing.
    private async Task<long> WaitUntilReleasedAsync(string topic, string subscription)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var state = await _client.GetTopicAsync($"{topic}/subscriptions/{subscription}");
            if (state.GetProperty("inFlight").GetInt32() == 0)
            {
                return state.GetProperty("partitions")[0].GetProperty("committedOffset").GetInt64();
            }

            Assert.True(DateTime.UtcNow < deadline, $"messages the first client was never sent are still in flight: {state}");
            await Task.Delay(100);
        }
    }

    // The subscription's messages in flight stop changing: the stream is blocked in a write, holding them.
    private async Task WaitUntilStuckAsync(string topic, string subscription)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            var state = await _client.GetTopicAsync($"{topic}/subscriptions/{subscription}");
            var now = $"{state.GetProperty("inFlight").GetInt32()}/{state.GetProperty("backlog").GetInt64()}";
            if (state.GetProperty("inFlight").GetInt32() > 0 && now == last)
            {
                return;
            }

            last = now;
            await Task.Delay(300);
        }

        Assert.Fail("the stream never stopped with messages in flight");
    }

    [Fact]
    public async Task Sse_WithoutSubscriptionName_RemovesItsTemporarySubscription_WhenTheClientLeaves()
    {
        var topic = $"acme/ns/{Names.Unique("ssetmp")}";
        await _client.FirehoseAsync(topic, "seed");
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            using var response = await _client.GetAsync($"/v2/sse/p/{topic}?SubscriptionInitialPosition=earliest", HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var reader = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
            Assert.Equal("seed", (await reader.NextAsync(cts.Token)).Data);
            Assert.Contains("NonResumable", await _client.GetStringAsync($"/v1/topics/{topic}/subscriptions"), StringComparison.Ordinal);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && (await _client.GetStringAsync($"/v1/topics/{topic}/subscriptions")).Contains("NonResumable", StringComparison.Ordinal))
        {
            await Task.Delay(100);
        }

        Assert.DoesNotContain("NonResumable", await _client.GetStringAsync($"/v1/topics/{topic}/subscriptions"), StringComparison.Ordinal);
    }
}
