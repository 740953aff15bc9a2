using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

public sealed class ProduceAndPullTests(SharedServer shared, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private readonly HttpClient _client = shared.Client;

    public void Dispose() => shared.Server.WriteOutputTo(output, lastLines: 50);

    [Fact]
    public async Task Produce_Pull_Ack_DeliversOnceWithKeyHeadersAndContentType()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var produced = await _client.ProduceAsync(topic, "hello", key: "k1", headers: new Dictionary<string, string> { ["trace"] = "abc" });
        var partition = produced.GetProperty("partition").GetInt32();
        var offset = produced.GetProperty("offset").GetInt64();
        Assert.Equal($"{partition}:{offset}", produced.GetProperty("id").GetString());

        var messages = await _client.PullAsync(topic, "s", waitMs: 5000);
        var m = Assert.Single(messages);
        Assert.Equal("hello", m.Value());
        Assert.Equal("utf8", m.GetProperty("valueEncoding").GetString());
        Assert.Equal("k1", m.GetProperty("key").GetString());
        Assert.Equal("utf8", m.GetProperty("keyEncoding").GetString());
        Assert.Equal(produced.GetProperty("id").GetString(), m.GetProperty("id").GetString());
        Assert.Equal(1, m.GetProperty("deliveryAttempt").GetInt32());
        var headers = m.GetProperty("headers");
        Assert.Equal("abc", headers.EnumerateObject().Single(h => h.Name.Equals("trace", StringComparison.OrdinalIgnoreCase)).Value.GetString());
        Assert.StartsWith("text/plain", headers.GetProperty("content-type").GetString());

        var ack = await _client.AckAsync(topic, "s", [m.AckId()]);
        Assert.Equal(1, ack.GetProperty("acked").GetInt32());
        Assert.Empty(await _client.PullAsync(topic, "s", waitMs: 300));

        // Acking again: listed back, not silently dropped.
        var again = await _client.AckAsync(topic, "s", [m.AckId(), "no-such-ack-id"]);
        Assert.Equal(0, again.GetProperty("acked").GetInt32());
        var listed = again.GetProperty("unknown").EnumerateArray().Concat(again.GetProperty("expired").EnumerateArray()).Select(e => e.GetString()).ToList();
        Assert.Contains("no-such-ack-id", listed);
        Assert.Contains(m.AckId(), listed);
    }

    [Fact]
    public async Task Pull_OfAThousand_FromABacklog_IsAnsweredWithAThousand()
    {
        // The read-ahead keeps 256 per partition; a pull asking for more gets what the log holds, not what is held.
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var batch = new { messages = Enumerable.Range(0, 1500).Select(i => new { value = $"m{i}" }).ToArray() };
        using (var produced = await _client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(batch)))
        {
            Assert.Equal(HttpStatusCode.OK, produced.StatusCode);
        }

        var first = await _client.PullAsync(topic, "s", max: 1000);
        var second = await _client.PullAsync(topic, "s", max: 1000);

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"m{i}"), first.Select(m => m.Value()));
        Assert.Equal(Enumerable.Range(1000, 500).Select(i => $"m{i}"), second.Select(m => m.Value()));
        Assert.Equal(1000, (await _client.AckAsync(topic, "s", first.Select(m => m.AckId()))).GetProperty("acked").GetInt32());
    }

    [Fact]
    public async Task Produce_BinaryValue_IsPulledAsBase64()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        byte[] value = [0xff, 0x00, 0xfe, 0x80];
        using var content = new ByteArrayContent(value);
        content.Headers.ContentType = new("application/octet-stream");
        using var response = await _client.PostAsync($"/v1/topics/{topic}/messages", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var m = Assert.Single(await _client.PullAsync(topic, "s", waitMs: 5000));
        Assert.Equal("base64", m.GetProperty("valueEncoding").GetString());
        Assert.Equal(value, Convert.FromBase64String(m.Value()));
        Assert.False(m.TryGetProperty("key", out _));
    }

    [Fact]
    public async Task Produce_Async_Answers202_AndTheMessageArrives()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        using var response = await _client.PostAsync($"/v1/topics/{topic}/messages?async=true", new StringContent("later"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var messages = await _client.DrainAsync(topic, "s", 1);
        Assert.Equal("later", Assert.Single(messages).Value());
    }

    [Fact]
    public async Task Produce_KeyFromHeaderOrQuery_PlacesByKafkasMurmur2()
    {
        var topic = SluiceApi.NewTopic();
        foreach (var key in new[] { "alpha", "beta", "gamma", "delta", "epsilon" })
        {
            var expected = Sluice.Core.Log.Partitioner.ForKey(Encoding.UTF8.GetBytes(key), 4);
            Assert.Equal(expected, (await _client.ProduceAsync(topic, "q", key: key)).GetProperty("partition").GetInt32());

            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages") { Content = new StringContent("h") };
            request.Headers.Add("Sluice-Key", key);
            var fromHeader = await SluiceApi.SendOkAsync(_client, request);
            Assert.Equal(expected, fromHeader.GetProperty("partition").GetInt32());
        }
    }

    [Fact]
    public async Task Produce_ExplicitPartition_IsUsed()
    {
        var topic = SluiceApi.NewTopic();
        var produced = await _client.ProduceAsync(topic, "p2", partition: 2);
        Assert.Equal(2, produced.GetProperty("partition").GetInt32());
        Assert.Equal(new long[] { 0, 0, 1, 0 }, await _client.EndOffsetsAsync(topic));
    }

    [Fact]
    public async Task Batch_Json_AnswersInRequestOrder_AndEachResultPointsAtItsRecord()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var records = Enumerable.Range(0, 20).Select(i => new { key = "k" + (i % 5), value = "v" + i }).ToArray();
        using var response = await _client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(new { messages = records }));
        var body = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.IsSuccessStatusCode, body.ToString());

        await AssertResultsMatchAsync(topic, body, records.Select(r => r.value).ToList());
    }

    [Fact]
    public async Task Batch_WithoutKeys_StoresNoKey_AndSpreadsBatchesOverPartitions()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 4 }));
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        // Keyless records stick to one partition for a run of requests, then move on: more requests than one run.
        const int Batches = 70;
        for (var i = 0; i < Batches; i++)
        {
            using var response = await _client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(new { messages = new[] { new { value = "a" + i }, new { value = "b" + i } } }));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        var messages = await _client.DrainAsync(topic, "s", 2 * Batches);

        // A record without a key has no key (not an empty one), so keyless batches move over the partitions instead of
        // all hashing the empty key to the same one.
        Assert.All(messages, m => Assert.False(m.TryGetProperty("key", out _), m.ToString()));
        Assert.True(messages.Select(m => m.GetProperty("partition").GetInt32()).Distinct().Count() > 1);
    }

    [Fact]
    public async Task Batch_Ndjson_AnswersInRequestOrder_WithBase64AndJsonValues()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var lines = new StringBuilder();
        var expected = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            if (i % 3 == 0)
            {
                lines.Append(JsonSerializer.Serialize(new { key = "k" + i, valueBase64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("b" + i)) })).Append('\n');
                expected.Add("b" + i);
            }
            else
            {
                lines.Append(JsonSerializer.Serialize(new { key = "k" + i, value = "n" + i, headers = new Dictionary<string, string> { ["i"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) } })).Append('\n');
                expected.Add("n" + i);
            }
        }

        using var response = await _client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Raw(lines.ToString(), "application/x-ndjson"));
        var body = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.IsSuccessStatusCode, body.ToString());

        await AssertResultsMatchAsync(topic, body, expected);
    }

    [Fact]
    public async Task Pull_LongPoll_ReturnsWhenAMessageArrives()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "latest" });
        var pull = _client.PullAsync(topic, "s", waitMs: 30000);
        await Task.Delay(200);
        await _client.ProduceAsync(topic, "wake");
        // The cursor was placed before the produce, so the waiting pull must get it, whenever it attached.
        var messages = await pull;
        Assert.Equal("wake", Assert.Single(messages).Value());
    }

    [Fact]
    public async Task Topic_Delete_RemovesItsDataAndSubscriptions_AndTheNameStartsAgainEmpty()
    {
        var topic = SluiceApi.NewTopic();
        using (var put = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 2 })))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await _client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        await _client.ProduceAsync(topic, "before", partition: 1);
        using (var delete = await _client.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var gone = await _client.GetAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        using (var goneSubscription = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/s"))
        {
            Assert.Equal(HttpStatusCode.NotFound, goneSubscription.StatusCode);
        }

        var list = await SluiceApi.ReadJsonAsync(await _client.GetAsync("/v1/topics"));
        Assert.DoesNotContain(topic, list.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));

        // Produce creates it again (auto-create is on): empty, so the new message is the first one.
        var produced = await _client.ProduceAsync(topic, "after", partition: 0);
        Assert.Equal(0, produced.GetProperty("offset").GetInt64());
        var described = await _client.GetTopicAsync(topic);
        Assert.All(described.GetProperty("partitions").EnumerateArray(), p => Assert.Equal(0, p.GetProperty("startOffset").GetInt64()));
        Assert.Equal(0, described.GetProperty("partitions")[1].GetProperty("endOffset").GetInt64());
    }

    // Checks partition sizes in bytes and timestamps: Kafka has no cheap per-partition size.
    [Fact]
    [Trait("Backend", "EmbeddedOnly")]
    public async Task Topics_PutGetListDelete()
    {
        var topic = SluiceApi.NewTopic();
        using (var put = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 3, retentionMs = 3_600_000 })))
        {
            var created = await SluiceApi.ReadJsonAsync(put);
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(3, created.GetProperty("partitions").GetArrayLength());
            Assert.Equal(3_600_000, created.GetProperty("retentionMs").GetInt64());
        }

        await _client.ProduceAsync(topic, "x", partition: 1);
        var described = await _client.GetTopicAsync(topic);
        Assert.Equal(topic, described.GetProperty("name").GetString());
        var p1 = described.GetProperty("partitions")[1];
        Assert.Equal(1, p1.GetProperty("endOffset").GetInt64());
        Assert.Equal(0, p1.GetProperty("startOffset").GetInt64());
        Assert.True(p1.GetProperty("bytes").GetInt64() > 0);
        Assert.NotEqual(JsonValueKind.Null, p1.GetProperty("newestTimestamp").ValueKind);

        var list = await SluiceApi.ReadJsonAsync(await _client.GetAsync("/v1/topics"));
        Assert.Contains(topic, list.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
        Assert.DoesNotContain(list.GetProperty("topics").EnumerateArray(), t => t.GetString()!.StartsWith("__", StringComparison.Ordinal));

        using (var delete = await _client.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using var gone = await _client.GetAsync($"/v1/topics/{topic}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Subscription_Get_ReportsProgressAndList()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 60000 });
        for (var i = 0; i < 4; i++)
        {
            await _client.ProduceAsync(topic, "m" + i, partition: 0);
        }

        var pulled = await _client.PullAsync(topic, "s", max: 2, waitMs: 5000);
        Assert.NotEmpty(pulled);
        var info = await SluiceApi.ReadJsonAsync(await _client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
        Assert.Equal("shared", info.GetProperty("type").GetString());
        Assert.Equal(60000, info.GetProperty("ackDeadlineMs").GetInt64());
        Assert.Equal(pulled.Count, info.GetProperty("inFlight").GetInt32());
        var p0 = info.GetProperty("partitions").EnumerateArray().Single(p => p.GetProperty("partition").GetInt32() == 0);
        Assert.Equal(4, p0.GetProperty("endOffset").GetInt64());
        Assert.Equal(4 - p0.GetProperty("committedOffset").GetInt64(), p0.GetProperty("lag").GetInt64());
        // Backlog counts everything not acked, in flight included: nothing was acked.
        Assert.Equal(0, p0.GetProperty("committedOffset").GetInt64());
        Assert.Equal(4, info.GetProperty("backlog").GetInt64());
        Assert.Contains(info.GetProperty("consumers").EnumerateArray(), c => c.GetProperty("consumerId").GetString() == "c1");

        var list = await SluiceApi.ReadJsonAsync(await _client.GetAsync($"/v1/topics/{topic}/subscriptions"));
        Assert.Equal(["s"], list.GetProperty("subscriptions").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task Seek_ToEarliest_RedeliversFromTheStart()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _client.ProduceAsync(topic, "a", partition: 0);
        await _client.ProduceAsync(topic, "b", partition: 0);
        Assert.Equal(2, (await _client.DrainAsync(topic, "s", 2)).Count);

        using (var seek = await _client.PostAsync($"/v1/topics/{topic}/subscriptions/s/seek", SluiceApi.Json(new { position = new { offset = 1, partition = 0 } })))
        {
            Assert.True(seek.IsSuccessStatusCode, await seek.Content.ReadAsStringAsync());
        }

        var again = await _client.DrainAsync(topic, "s", 1);
        Assert.Equal("b", Assert.Single(again).Value());
    }

    [Fact]
    public async Task Health_Ready_AndOpenApi()
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/readyz")).StatusCode);
        var openApi = await _client.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/v1/topics/{tenant}/{namespace}/{topic}/messages", openApi);
    }

    private async Task AssertResultsMatchAsync(string topic, JsonElement body, List<string> expectedValues)
    {
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(expectedValues.Count, results.Count);
        foreach (var r in results)
        {
            Assert.Equal($"{r.GetProperty("partition").GetInt32()}:{r.GetProperty("offset").GetInt64()}", r.GetProperty("id").GetString());
        }

        var pulled = await _client.DrainAsync(topic, "s", expectedValues.Count);
        var byId = pulled.ToDictionary(m => m.GetProperty("id").GetString()!, m => m.Value());
        for (var i = 0; i < results.Count; i++)
        {
            Assert.Equal(expectedValues[i], byId[results[i].GetProperty("id").GetString()!]);
        }

        // Within a partition, request order is offset order.
        foreach (var group in results.Select((r, i) => (r, i)).GroupBy(x => x.r.GetProperty("partition").GetInt32()))
        {
            var offsets = group.OrderBy(x => x.i).Select(x => x.r.GetProperty("offset").GetInt64()).ToList();
            Assert.Equal(offsets.Order(), offsets);
            Assert.Equal(offsets.Count, offsets.Distinct().Count());
        }
    }
}
