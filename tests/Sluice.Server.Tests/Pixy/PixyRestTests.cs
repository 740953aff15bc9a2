using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Pixy;

/// <summary>Kafka-Pixy's REST API on the main port, pinned from Pixy's documented behaviour (both backends).</summary>
public sealed class PixyRestTests(PixyServer pixy, ITestOutputHelper output) : IClassFixture<PixyServer>, IDisposable
{
    private readonly HttpClient _client = pixy.Client;

    public void Dispose() => pixy.Server.WriteOutputTo(output, lastLines: 40);

    private async Task<(HttpStatusCode Status, JsonElement Body, string Text)> SendAsync(HttpMethod method, string path, HttpContent? content = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        configure?.Invoke(request);
        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length > 0 && response.Content.Headers.ContentType?.MediaType == "application/json" ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return (response.StatusCode, body, text);
    }

    private Task<(HttpStatusCode Status, JsonElement Body, string Text)> ProduceAsync(string topic, string message, string? key = null, bool sync = true, string prefix = "")
    {
        var query = new List<string>();
        if (key is not null)
        {
            query.Add("key=" + Uri.EscapeDataString(key));
        }

        if (sync)
        {
            query.Add("sync");
        }

        return SendAsync(HttpMethod.Post, $"{prefix}/topics/{topic}/messages" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), new StringContent(message, Encoding.UTF8, "text/plain") { Headers = { ContentType = new("text/plain") } });
    }

    private Task<(HttpStatusCode Status, JsonElement Body, string Text)> ConsumeAsync(string topic, string group, string ack = "")
        => SendAsync(HttpMethod.Get, $"/topics/{topic}/messages?group={group}{ack}");

    private static string Value(JsonElement message) => Encoding.UTF8.GetString(message.GetProperty("value").GetBytesFromBase64());

    [Fact]
    public async Task Ping_AnswersPong()
    {
        var (status, _, text) = await SendAsync(HttpMethod.Get, "/_ping");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("pong", text);
    }

    [Fact]
    public async Task Produce_IsAsyncByDefault_AnsweringEmptyObject_AndSyncAnswersPartitionAndOffset()
    {
        var topic = PixyServer.NewTopic();
        var (asyncStatus, asyncBody, _) = await ProduceAsync(topic, "first", sync: false);
        Assert.Equal(HttpStatusCode.OK, asyncStatus);
        Assert.Equal(JsonValueKind.Object, asyncBody.ValueKind);
        Assert.Empty(asyncBody.EnumerateObject());

        var (status, body, text) = await ProduceAsync(topic, "second", key: "a");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("partition").GetInt32());   // Pixy's placement of key "a" on 4 partitions
        Assert.True(body.GetProperty("offset").GetInt64() >= 0);
        Assert.Contains("\n  \"partition\": 0", text, StringComparison.Ordinal);   // indented by two spaces, like Go's MarshalIndent
    }

    [Fact]
    public async Task KeyedProduce_PlacesKeysAsKafkaPixyDoes_OnAFourPartitionTopic()
    {
        var topic = PixyServer.NewTopic();
        var counts = new int[4];
        for (var i = 0; i < 100; i++)
        {
            var (_, body, _) = await ProduceAsync(topic, "v" + i, key: $"key-{i}");
            var partition = body.GetProperty("partition").GetInt32();
            Assert.Equal(PixyServer.PixyPartition($"key-{i}", 4), partition);
            counts[partition]++;
        }

        // FNV-1a of key-0 .. key-99 modulo 4, as Sarama's hash partitioner places them.
        Assert.Equal([24, 25, 26, 25], counts);
        Assert.Equal(3, (await ProduceAsync(topic, "x", key: "b")).Body.GetProperty("partition").GetInt32());
        Assert.Equal(1, (await ProduceAsync(topic, "x", key: "foo")).Body.GetProperty("partition").GetInt32());
        Assert.Equal(3, (await ProduceAsync(topic, "x", key: "")).Body.GetProperty("partition").GetInt32());
    }

    [Fact]
    public async Task AutoAckLoop_ConsumesEveryMessageOnce_ThenLongPollingTimeout()
    {
        var topic = PixyServer.NewTopic();
        var group = "g" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.RequestTimeout, (await ConsumeAsync(topic, group)).Status);   // creates the group at the end
        for (var i = 0; i < 10; i++)
        {
            await ProduceAsync(topic, "m" + i, key: "k" + i);
        }

        var seen = new List<string>();
        while (true)
        {
            var (status, body, text) = await ConsumeAsync(topic, group);
            if (status == HttpStatusCode.RequestTimeout)
            {
                Assert.Equal("long polling timeout", body.GetProperty("error").GetString());
                Assert.Contains("\"error\": \"long polling timeout\"", text, StringComparison.Ordinal);
                break;
            }

            Assert.Equal(HttpStatusCode.OK, status);
            seen.Add(Value(body));
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => "m" + i).Order(), seen.Order());
        var offsets = (await SendAsync(HttpMethod.Get, $"/topics/{topic}/offsets?group={group}")).Body;
        Assert.All(offsets.EnumerateArray(), p => Assert.Equal(0, p.GetProperty("lag").GetInt64()));
        Assert.Equal(10, offsets.EnumerateArray().Sum(p => p.GetProperty("count").GetInt64()));
    }

    [Fact]
    public async Task ExplicitAckLoop_NoAckFirst_ThenEachRequestAcksThePrevious_AndTheLastByAcksRoute()
    {
        var topic = PixyServer.NewTopic();
        var group = "g" + Guid.NewGuid().ToString("N")[..8];
        await ConsumeAsync(topic, group, "&noAck");
        for (var i = 0; i < 5; i++)
        {
            await ProduceAsync(topic, "m" + i, key: "same");   // one key: one partition, in order
        }

        var seen = new List<string>();
        var (status, body, _) = await ConsumeAsync(topic, group, "&noAck");
        while (status == HttpStatusCode.OK)
        {
            seen.Add(Value(body));
            var (p, o) = (body.GetProperty("partition").GetInt32(), body.GetProperty("offset").GetInt64());
            var next = await ConsumeAsync(topic, group, $"&ackPartition={p}&ackOffset={o}");
            if (next.Status != HttpStatusCode.OK)
            {
                // Nothing more: ack the last one by the acks route.
                var acked = await SendAsync(HttpMethod.Post, $"/topics/{topic}/acks?group={group}&partition={p}&offset={o}");
                Assert.Equal(HttpStatusCode.OK, acked.Status);
                Assert.Empty(acked.Body.EnumerateObject());
            }

            (status, body, _) = next;
        }

        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], seen);
        var offsets = (await SendAsync(HttpMethod.Get, $"/topics/{topic}/offsets?group={group}")).Body;
        var partition = offsets.EnumerateArray().Single(r => r.GetProperty("partition").GetInt32() == PixyServer.PixyPartition("same", 4));
        Assert.Equal(5, partition.GetProperty("offset").GetInt64());
        Assert.Equal(0, partition.GetProperty("lag").GetInt64());
    }

    [Fact]
    public async Task NewGroup_StartsAtTheEndAsOfItsFirstRequest_AndMissesNothingProducedAfter()
    {
        var topic = PixyServer.NewTopic();
        await ProduceAsync(topic, "before", key: "k");
        var group = "g" + Guid.NewGuid().ToString("N")[..8];
        var first = ConsumeAsync(topic, group);
        await Task.Delay(200);
        await ProduceAsync(topic, "during", key: "k");
        var got = await first;
        Assert.Equal(HttpStatusCode.OK, got.Status);
        Assert.Equal("during", Value(got.Body));
        await ProduceAsync(topic, "after", key: "k");
        Assert.Equal("after", Value((await ConsumeAsync(topic, group)).Body));
        Assert.Equal(HttpStatusCode.RequestTimeout, (await ConsumeAsync(topic, group)).Status);
    }

    [Fact]
    public async Task Offsets_OfAGroupThatNeverConsumed_AreMinusOneWithNoLag_AndSetOffsetsRewinds()
    {
        var topic = PixyServer.NewTopic();
        for (var i = 0; i < 3; i++)
        {
            await ProduceAsync(topic, "m" + i, key: "one");
        }

        var p = PixyServer.PixyPartition("one", 4);
        var (status, body, _) = await SendAsync(HttpMethod.Get, $"/topics/{topic}/offsets?group=never");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4, body.GetArrayLength());
        var row = body.EnumerateArray().Single(r => r.GetProperty("partition").GetInt32() == p);
        Assert.Equal(0, row.GetProperty("begin").GetInt64());
        Assert.Equal(3, row.GetProperty("end").GetInt64());
        Assert.Equal(3, row.GetProperty("count").GetInt64());
        Assert.Equal(-1, row.GetProperty("offset").GetInt64());
        Assert.Equal(0, row.GetProperty("lag").GetInt64());

        var set = await SendAsync(HttpMethod.Post, $"/topics/{topic}/offsets?group=rewound",
            new StringContent($"[{{\"partition\":{p},\"offset\":1}}]", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, set.Status);
        var after = (await SendAsync(HttpMethod.Get, $"/topics/{topic}/offsets?group=rewound")).Body.EnumerateArray().Single(r => r.GetProperty("partition").GetInt32() == p);
        Assert.Equal(1, after.GetProperty("offset").GetInt64());
        Assert.Equal(2, after.GetProperty("lag").GetInt64());
        Assert.Equal("m1", Value((await ConsumeAsync(topic, "rewound")).Body));
    }

    [Fact]
    public async Task Headers_XKafkaBase64_RoundTrip_AndBadBase64IsRefused()
    {
        var topic = PixyServer.NewTopic();
        var group = "g" + Guid.NewGuid().ToString("N")[..8];
        await ConsumeAsync(topic, group);
        var produced = await SendAsync(HttpMethod.Post, $"/topics/{topic}/messages?sync&key=k", new StringContent("{\"a\":1}", Encoding.UTF8, "application/json"),
            r => r.Headers.Add("X-Kafka-trace-id", Convert.ToBase64String(Encoding.UTF8.GetBytes("t-1"))));
        Assert.Equal(HttpStatusCode.OK, produced.Status);

        var (_, body, _) = await ConsumeAsync(topic, group);
        Assert.Equal("{\"a\":1}", Value(body));
        Assert.Equal("k", Encoding.UTF8.GetString(body.GetProperty("key").GetBytesFromBase64()));
        var header = Assert.Single(body.GetProperty("headers").EnumerateArray());
        Assert.Equal("Trace-Id", header.GetProperty("key").GetString());   // Go's canonical header name, prefix removed
        Assert.Equal("t-1", Encoding.UTF8.GetString(header.GetProperty("value").GetBytesFromBase64()));

        var bad = await SendAsync(HttpMethod.Post, $"/topics/{topic}/messages?sync", new StringContent("x", Encoding.UTF8, "text/plain") { Headers = { ContentType = new("text/plain") } },
            r => r.Headers.Add("X-Kafka-Foo", "%%%"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal("Invalid base64 encoding for header: X-Kafka-Foo", bad.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task FormBody_UsesFieldMsg_AndAnUnkeyedMessageComesBackWithNullKey()
    {
        var topic = PixyServer.NewTopic();
        var group = "g" + Guid.NewGuid().ToString("N")[..8];
        await ConsumeAsync(topic, group);
        var produced = await SendAsync(HttpMethod.Post, $"/topics/{topic}/messages?sync", new FormUrlEncodedContent([KeyValuePair.Create("msg", "from a form")]));
        Assert.Equal(HttpStatusCode.OK, produced.Status);
        var (_, body, _) = await ConsumeAsync(topic, group);
        Assert.Equal("from a form", Value(body));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("key").ValueKind);
        Assert.Empty(body.GetProperty("headers").EnumerateArray());

        var empty = await SendAsync(HttpMethod.Post, $"/topics/{topic}/messages?sync", new FormUrlEncodedContent([KeyValuePair.Create("other", "x")]));
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status);
        Assert.Equal("empty message", empty.Body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("/clusters/nope/topics/x/messages?group=g", "proxy `nope` does not exist")]
    [InlineData("/topics/x/messages", "one consumer group is expected, but 0 provided")]
    [InlineData("/topics/x/messages?group=a&group=b", "one consumer group is expected, but 2 provided")]
    [InlineData("/topics/x/messages?group=g&ackPartition=1", "ackPartition and ackOffset either both should be provided or neither")]
    [InlineData("/topics/x/messages?group=g&ackPartition=z&ackOffset=1", "bad ackPartition: [z]")]
    public async Task BadConsumeRequests_Are400_WithPixysErrorText(string path, string error)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(error, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task BadProduceRequests_Are400_WithPixysErrorText()
    {
        var xml = await SendAsync(HttpMethod.Post, "/topics/x/messages", new StringContent("<a/>", Encoding.UTF8, "application/xml"));
        Assert.Equal(HttpStatusCode.BadRequest, xml.Status);
        Assert.Equal("unsupported content type application/xml; charset=utf-8", xml.Body.GetProperty("error").GetString());

        var badName = await ProduceAsync("no%20spaces", "x");
        Assert.Equal(HttpStatusCode.BadRequest, badName.Status);
        Assert.StartsWith("invalid topic name", badName.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClusterRoutes_DefaultCluster_ServeTheSameTopics_AndListingsAndMetadataAnswer()
    {
        var topic = PixyServer.NewTopic();
        var produced = await ProduceAsync(topic, "via cluster route", key: "a", prefix: "/clusters/default");
        Assert.Equal(HttpStatusCode.OK, produced.Status);

        var list = await SendAsync(HttpMethod.Get, "/topics");
        Assert.Contains(topic, list.Body.EnumerateArray().Select(t => t.GetString()));

        var detailed = await SendAsync(HttpMethod.Get, "/clusters/default/topics?withPartitions&withConfig");
        var mine = detailed.Body.GetProperty(topic);
        Assert.Equal(4, mine.GetProperty("partitions").GetArrayLength());
        Assert.Equal("delete", mine.GetProperty("config").GetProperty("config").GetProperty("cleanup.policy").GetString());

        var meta = await SendAsync(HttpMethod.Get, $"/topics/{topic}");
        Assert.Equal(HttpStatusCode.OK, meta.Status);
        Assert.True(meta.Body.TryGetProperty("config", out _));
        Assert.False(meta.Body.TryGetProperty("partitions", out _));

        // The same topic through Sluice's own API: a plain Pixy name lives in kafka/topics.
        var described = await _client.GetTopicAsync($"kafka/topics/{topic}");
        Assert.Equal(1, described.GetProperty("partitions")[0].GetProperty("endOffset").GetInt64());
    }

    [Fact]
    public async Task Consumers_ListsTheGroupsMembers_WithThePartitionsTheyHold()
    {
        var topic = PixyServer.NewTopic();
        Assert.Equal(HttpStatusCode.RequestTimeout, (await ConsumeAsync(topic, "watchers")).Status);
        var (status, body, _) = await SendAsync(HttpMethod.Get, $"/topics/{topic}/consumers");
        Assert.Equal(HttpStatusCode.OK, status);
        var member = Assert.Single(body.GetProperty("watchers").EnumerateObject());
        Assert.StartsWith("pixy-", member.Name, StringComparison.Ordinal);
        Assert.Equal([0, 1, 2, 3], member.Value.EnumerateArray().Select(p => p.GetInt32()));

        var none = await SendAsync(HttpMethod.Get, $"/topics/{topic}/consumers?group=nobody");
        Assert.Empty(none.Body.EnumerateObject());
    }
}
