using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;
using static Sluice.Server.Tests.Diagnostics.MetricsScraper;

namespace Sluice.Server.Tests.Diagnostics;

/// <summary>
/// <c>GET /metrics</c> after known traffic on a server of its own (so request counts are exact): produced per topic,
/// delivered, redelivered, acked, nacked, dead-lettered and filtered per subscription, lag, streams, webhooks, storage
/// and request durations, each with the exact count.
/// </summary>
public sealed class MetricsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await ServerProcess.StartNewAsync(["--allow-private-webhooks"]);

    public async Task DisposeAsync()
    {
        _server.WriteOutputTo(output, lastLines: 40);
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Scrape_AfterKnownTraffic_ShowsTheExactCounts()
    {
        var client = _server.Client;
        var topic = SluiceApi.NewTopic("metrics");
        (await client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 }))).EnsureSuccessStatusCode();
        await client.PutSubscriptionAsync(topic, "work", new { position = "earliest", ackDeadlineMs = 600_000 });
        await client.PutSubscriptionAsync(topic, "dead", new { position = "earliest", ackDeadlineMs = 600_000, maxDeliveries = 1 });
        await client.PutSubscriptionAsync(topic, "eu", new { position = "earliest", filter = "header.region = \"eu\"" });

        // 10 produced: 6 single (2 of them for the filter), a batch of 4.
        for (var i = 0; i < 6; i++)
        {
            await client.ProduceAsync(topic, $"single-{i}", headers: i < 2 ? new Dictionary<string, string> { ["region"] = "eu" } : null);
        }

        (await client.PostAsync($"/v1/topics/{topic}/batch", SluiceApi.Json(new { messages = Enumerable.Range(0, 4).Select(i => new { value = $"batch-{i}" }) }))).EnsureSuccessStatusCode();

        // "work": all 10 delivered, 7 acked, 3 nacked, which come back (redelivered) and are acked.
        var first = await client.DrainAsync(topic, "work", 10, ack: false);
        Assert.Equal(10, first.Count);
        await client.AckAsync(topic, "work", first.Take(7).Select(m => m.AckId()));
        await client.NackAsync(topic, "work", first.Skip(7).Select(m => m.AckId()));
        var again = await client.DrainAsync(topic, "work", 3);
        Assert.Equal(3, again.Count);
        Assert.All(again, m => Assert.Equal(2, m.GetProperty("deliveryAttempt").GetInt32()));

        // "dead": one delivered and nacked after its one allowed delivery: dead-lettered.
        var one = await client.PullAsync(topic, "dead", max: 1, waitMs: 5000);
        Assert.Single(one);
        await client.NackAsync(topic, "dead", [one[0].AckId()]);

        // "eu": 2 match, 8 filtered out.
        Assert.Equal(2, (await client.DrainAsync(topic, "eu", 2)).Count);

        var scrape = await client.WaitForAsync(1, "sluice_subscription_dead_lettered_total", Of(topic, "dead"));
        scrape = await client.WaitForAsync(8, "sluice_subscription_filtered_out_total", Of(topic, "eu"));
        output.WriteLine(scrape.Text);

        Assert.Equal(10, scrape.Value("messaging_client_sent_messages_total", [.. Of(topic), ("messaging_operation_name", "send")]));
        Assert.Equal(13, scrape.Value("messaging_client_consumed_messages_total", [.. Of(topic, "work"), ("messaging_operation_name", "receive")]));
        Assert.Equal(3, scrape.Value("sluice_subscription_redelivered_total", Of(topic, "work")));
        Assert.Equal(10, scrape.Value("sluice_subscription_acked_total", Of(topic, "work")));
        Assert.Equal(3, scrape.Value("sluice_subscription_nacked_total", Of(topic, "work")));
        Assert.Equal(0, scrape.Value("sluice_subscription_dead_lettered_total", Of(topic, "work")));
        Assert.Equal(1, scrape.Value("messaging_client_consumed_messages_total", Of(topic, "dead")));
        Assert.Equal(1, scrape.Value("sluice_subscription_nacked_total", Of(topic, "dead")));
        Assert.Equal(2, scrape.Value("messaging_client_consumed_messages_total", Of(topic, "eu")));
        Assert.Equal(2, scrape.Value("sluice_subscription_acked_total", Of(topic, "eu")));

        // Gauges are sampled in the background: they reach the state of the log.
        await client.WaitForAsync(0, "sluice_subscription_lag", Of(topic, "work"));
        await client.WaitForAsync(0, "sluice_subscription_lag", Of(topic, "eu"));
        await client.WaitForAsync(9, "sluice_subscription_lag", Of(topic, "dead"));

        // The six single produces, each answered 200, through their route.
        Assert.Equal(6, scrape.Value("http_server_request_duration_seconds_count",
            ("http_request_method", "POST"), ("http_route", "/v1/topics/{tenant}/{namespace}/{topic}/messages"), ("http_response_status_code", "200")));
        if (!ServerProcess.OnKafka)
        {
            Assert.True(scrape.Value("sluice_storage_records_total") >= 10);
            Assert.True(scrape.Value("sluice_storage_fsyncs_total") >= 1);
            Assert.True(scrape.Value("sluice_storage_group_commit_size_count") >= 1);
        }
    }

    [Fact]
    public async Task Scrape_WithAStreamAndAWebhook_ShowsOpenStreamsAndWebhookDeliveries()
    {
        var client = _server.Client;
        var topic = SluiceApi.NewTopic("hooked");
        await using var receiver = await WebhookReceiver.StartAsync();
        using var created = await client.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic, url = receiver.Url }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await SluiceApi.ReadJsonAsync(created)).GetProperty("id").GetString()!;

        using var stream = new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/live/events");
        using var sse = await client.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        await client.WaitForAsync(1, "sluice_streams_open");

        await client.ProduceAsync(topic, "a");
        await client.ProduceAsync(topic, "b");
        await receiver.WaitForAsync(calls => calls.Count >= 2);

        var webhook = new[] { ("sluice_webhook_id", id), ("messaging_destination_name", topic) };
        var scrape = await client.WaitForAsync(2, "sluice_webhook_delivered_total", webhook);
        Assert.Equal(0, scrape.Value("sluice_webhook_failed_total", webhook));
        Assert.Equal(0, scrape.Value("sluice_webhook_breaker_state", webhook));
        Assert.Equal(2, scrape.Value("messaging_client_consumed_messages_total", Of(topic, "webhook-" + id)));
        await client.WaitForAsync(0, "sluice_webhook_lag", webhook);

        sse.Dispose();
        await client.WaitForAsync(0, "sluice_streams_open");
    }

    [Fact]
    public async Task Scrape_WithAReplicator_ShowsItsWritesLagAndState()
    {
        var client = _server.Client;
        var topic = SluiceApi.NewTopic("replicated");
        await using var target = await WebhookReceiver.StartAsync();
        var name = "metrics-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await client.PutAsync($"/v1/replicators/{name}", SluiceApi.Json(new
        {
            source = new { topic, position = "earliest" },
            sink = new { type = "http", url = target.Url },
        }));
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        for (var i = 0; i < 3; i++)
        {
            await client.ProduceAsync(topic, $"r{i}");
        }

        var replicator = new[] { ("sluice_replicator", name), ("sluice_sink", "http") };
        var scrape = await client.WaitForAsync(3, "sluice_replicator_records_written_total", replicator);
        await client.WaitForAsync(0, "sluice_replicator_lag", replicator);
        await client.WaitForAsync(0, "sluice_replicator_state", replicator);

        (await client.PostAsync($"/v1/replicators/{name}/stop", null)).EnsureSuccessStatusCode();
        await client.ProduceAsync(topic, "while stopped");
        await client.WaitForAsync(2, "sluice_replicator_state", replicator);
        await client.WaitForAsync(1, "sluice_replicator_lag", replicator);
        output.WriteLine(string.Join("\n", scrape.Samples.Where(x => x.Name.StartsWith("sluice_replicator", StringComparison.Ordinal))));
    }
}
