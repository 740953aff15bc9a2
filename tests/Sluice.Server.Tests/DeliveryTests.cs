using System.Collections.Concurrent;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

public sealed class DeliveryTests(SharedServer shared, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private readonly HttpClient _client = shared.Client;

    public void Dispose() => shared.Server.WriteOutputTo(output, lastLines: 50);

    [Fact]
    public async Task Shared_ThreeConsumersThatAck_TogetherGetEveryMessageExactlyOnce()
    {
        const int Count = 90;
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest", ackDeadlineMs = 120_000 });
        using (var batch = await _client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(new { messages = Enumerable.Range(0, Count).Select(i => new { value = "m" + i }) })))
        {
            Assert.True(batch.IsSuccessStatusCode);
        }

        var received = new ConcurrentBag<(string Consumer, string Value)>();
        async Task ConsumeAsync(string consumer)
        {
            var empty = 0;
            while (received.Count < Count && empty < 10)
            {
                var messages = await _client.PullAsync(topic, "s", consumer, max: 7, waitMs: 1000);
                if (messages.Count == 0)
                {
                    empty++;
                    continue;
                }

                foreach (var m in messages)
                {
                    received.Add((consumer, m.Value()));
                }

                var ack = await _client.AckAsync(topic, "s", messages.Select(m => m.AckId()));
                Assert.Equal(messages.Count, ack.GetProperty("acked").GetInt32());
            }
        }

        await Task.WhenAll(ConsumeAsync("a"), ConsumeAsync("b"), ConsumeAsync("c"));

        var values = received.Select(r => r.Value).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, Count).Select(i => "m" + i).Order(StringComparer.Ordinal), values);
        Assert.Empty(await _client.PullAsync(topic, "s", "a", waitMs: 200));
    }

    [Fact]
    public async Task Nack_RedeliversWithAttempt2()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest", ackDeadlineMs = 120_000 });
        await _client.ProduceAsync(topic, "again");
        var first = Assert.Single(await _client.DrainAsync(topic, "s", 1, ack: false));
        Assert.Equal(1, first.GetProperty("deliveryAttempt").GetInt32());

        var nack = await _client.NackAsync(topic, "s", [first.AckId()]);
        Assert.Equal(1, nack.GetProperty("nacked").GetInt32());

        var second = Assert.Single(await _client.DrainAsync(topic, "s", 1, ack: false));
        Assert.Equal("again", second.Value());
        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal(2, second.GetProperty("deliveryAttempt").GetInt32());
        Assert.NotEqual(first.AckId(), second.AckId());
    }

    [Fact]
    public async Task AckDeadlinePassed_RedeliversWithAttempt2_AndTheOldAckIdIsListedBack()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest", ackDeadlineMs = 300 });
        await _client.ProduceAsync(topic, "slow");
        var first = Assert.Single(await _client.DrainAsync(topic, "s", 1, ack: false));

        // Not acked: after the deadline it comes back (DrainAsync waits up to several seconds for it).
        var second = Assert.Single(await _client.DrainAsync(topic, "s", 1, ack: false));
        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal(2, second.GetProperty("deliveryAttempt").GetInt32());

        var late = await _client.AckAsync(topic, "s", [first.AckId()]);
        Assert.Equal(0, late.GetProperty("acked").GetInt32());
        var listed = late.GetProperty("unknown").EnumerateArray().Concat(late.GetProperty("expired").EnumerateArray()).Select(e => e.GetString());
        Assert.Contains(first.AckId(), listed);
    }

    [Fact]
    public async Task MaxDeliveriesReached_MessageGoesToTheDeadLetterTopic_WithItsSourceHeaders()
    {
        var topic = SluiceApi.NewTopic("dl");
        var dlq = topic + "-dead";
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest", ackDeadlineMs = 120_000, maxDeliveries = 2, deadLetterTopic = dlq });
        var produced = await _client.ProduceAsync(topic, "poison", key: "pk", headers: new Dictionary<string, string> { ["origin"] = "test" });

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var m = Assert.Single(await _client.DrainAsync(topic, "s", 1, ack: false));
            Assert.Equal(attempt, m.GetProperty("deliveryAttempt").GetInt32());
            await _client.NackAsync(topic, "s", [m.AckId()]);
        }

        // It is no longer delivered from the source...
        Assert.Empty(await _client.PullAsync(topic, "s", waitMs: 500));

        // ...and is readable from the dead-letter topic, with the source's headers.
        await _client.PutSubscriptionAsync(dlq, "reader", new { position = "earliest" });
        var dead = Assert.Single(await _client.DrainAsync(dlq, "reader", 1));
        Assert.Equal("poison", dead.Value());
        Assert.Equal("pk", dead.GetProperty("key").GetString());
        var headers = dead.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name.ToLowerInvariant(), h => h.Value.GetString());
        Assert.Equal("test", headers["origin"]);
        output.WriteLine("dead-letter headers: " + string.Join(", ", headers.Select(h => $"{h.Key}={h.Value}")));
        Assert.Contains(headers.Values, v => v is not null && v.Contains(topic, StringComparison.Ordinal));
        Assert.Contains(headers.Values, v => v == produced.GetProperty("offset").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) || v == produced.GetProperty("id").GetString());
    }

    [Fact]
    public async Task KeyShared_TwoConsumers_KeepEachKeyInOrder()
    {
        const int Keys = 6;
        const int PerKey = 15;
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "s", new { type = "key_shared", position = "earliest", ackDeadlineMs = 120_000 });
        var records = new List<object>();
        for (var n = 0; n < PerKey; n++)
        {
            for (var k = 0; k < Keys; k++)
            {
                records.Add(new { key = "key" + k, value = $"key{k}:{n}" });
            }
        }

        using (var batch = await _client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(new { messages = records })))
        {
            Assert.True(batch.IsSuccessStatusCode);
        }

        // Each consumer records what it got before acking it, under one lock: the log is in delivery order.
        var delivered = new List<string>();
        var gate = new object();
        async Task ConsumeAsync(string consumer)
        {
            var empty = 0;
            while (empty < 6)
            {
                int total;
                lock (gate)
                {
                    total = delivered.Count;
                }

                if (total >= Keys * PerKey)
                {
                    return;
                }

                var messages = await _client.PullAsync(topic, "s", consumer, max: 5, waitMs: 500);
                if (messages.Count == 0)
                {
                    empty++;
                    continue;
                }

                lock (gate)
                {
                    delivered.AddRange(messages.Select(m => m.Value()));
                }

                await _client.AckAsync(topic, "s", messages.Select(m => m.AckId()));
            }
        }

        await Task.WhenAll(ConsumeAsync("x"), ConsumeAsync("y"));

        Assert.Equal(Keys * PerKey, delivered.Count);
        foreach (var key in delivered.GroupBy(v => v.Split(':')[0]))
        {
            var sequence = key.Select(v => int.Parse(v.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(0, PerKey), sequence);
        }
    }

    [Fact]
    public async Task Pull_OnUnknownSubscription_CreatesItWithDefaults()
    {
        var topic = SluiceApi.NewTopic();
        await _client.ProduceAsync(topic, "before");
        Assert.Empty(await _client.PullAsync(topic, "fresh", waitMs: 0));
        var info = await SluiceApi.ReadJsonAsync(await _client.GetAsync($"/v1/topics/{topic}/subscriptions/fresh"));
        Assert.Equal("shared", info.GetProperty("type").GetString());
        Assert.Equal(30000, info.GetProperty("ackDeadlineMs").GetInt64());

        // Default position is latest: "before" is not delivered, a new message is.
        await _client.ProduceAsync(topic, "after");
        var m = Assert.Single(await _client.DrainAsync(topic, "fresh", 1));
        Assert.Equal("after", m.Value());
        Assert.Equal(JsonValueKind.String, m.GetProperty("publishTime").ValueKind);
    }
}
