using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Webhooks;

/// <summary>Push delivery against real receivers: signatures, headers, retries, 429, ordering, dead-letters, breaker, replies.</summary>
public sealed class WebhookDeliveryTests(WebhookServer fixture, ITestOutputHelper output) : IClassFixture<WebhookServer>, IAsyncLifetime
{
    private readonly HttpClient _client = fixture.Client;
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        fixture.Server.WriteOutputTo(output, 60);
    }

    [Fact]
    public async Task Delivery_SignedWithMetadataHeaders_AndSecretShownOnlyOnce()
    {
        var topic = SluiceApi.NewTopic("wh");
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, headers = new Dictionary<string, string> { ["X-Token"] = "t0k3n" } });
        var id = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("secret").GetString()!;

        var produced = await _client.ProduceAsync(topic, "hello", key: "k1", headers: new Dictionary<string, string> { ["trace"] = "abc" });
        var call = (await _receiver.WaitForAsync(c => c.Count >= 1))[0];

        WebhookApi.AssertSigned(call, secret);
        Assert.Equal("hello", call.Text);
        Assert.StartsWith("text/plain", call.ContentType, StringComparison.Ordinal);
        Assert.Equal(produced.GetProperty("id").GetString(), call.Header("Sluice-Message-Id"));
        Assert.Equal(topic, call.Header("Sluice-Topic"));
        Assert.Equal("k1", call.Header("Sluice-Key"));
        Assert.Equal("1", call.Header("Sluice-Attempt"));
        Assert.Equal(id, call.Header("Sluice-Webhook-Id"));
        Assert.Equal("abc", call.Header("Sluice-Header-trace"));
        Assert.Equal("t0k3n", call.Header("X-Token"));
        Assert.True(DateTimeOffset.TryParse(call.Header("Sluice-Publish-Time"), System.Globalization.CultureInfo.InvariantCulture, out _));

        // Never again: GET and list show that a secret is set, not the secret; header values are hidden too.
        var got = await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Get, $"/v1/webhooks/{id}"));
        Assert.False(got.TryGetProperty("secret", out _));
        Assert.True(got.GetProperty("secretSet").GetBoolean());
        Assert.Equal("(hidden)", got.GetProperty("headers").GetProperty("X-Token").GetString());
        var list = await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Get, "/v1/webhooks"));
        Assert.DoesNotContain(secret, list.ToString(), StringComparison.Ordinal);
        Assert.Contains(list.GetProperty("webhooks").EnumerateArray(), w => w.GetProperty("id").GetString() == id);

        await _client.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == 1 && s.GetProperty("inFlight").GetInt32() == 0);
    }

    [Fact]
    public async Task Delivery_OfWebhookCreatedInATracedRequest_CarriesNoTraceContext()
    {
        // The creating request is traced; the webhook's calls must not become spans of it for the webhook's lifetime.
        const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var topic = SluiceApi.NewTopic("wh-trace");
        using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/webhooks") { Content = SluiceApi.Json(new { topic, url = _receiver.Url }) };
        create.Headers.TryAddWithoutValidation("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
        using (var response = await _client.SendAsync(create))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        await _client.ProduceAsync(topic, "untraced");
        var call = (await _receiver.WaitForAsync(c => c.Count >= 1))[0];

        Assert.False(call.Headers.ContainsKey("traceparent"), $"traceparent: {call.Headers.GetValueOrDefault("traceparent")}");
        Assert.False(call.Headers.ContainsKey("tracestate"));
        Assert.DoesNotContain(call.Headers.Values, v => v.Contains(TraceId, StringComparison.Ordinal));
        Assert.Equal("Sluice-Webhooks/1", call.Header("User-Agent"));
    }

    [Fact]
    public async Task Delivery_WithConfiguredUserAgent_SendsThatOneOnly()
    {
        var topic = SluiceApi.NewTopic("wh-agent");
        await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, headers = new Dictionary<string, string> { ["User-Agent"] = "receiver-wants-this/2" } });

        await _client.ProduceAsync(topic, "agent");
        var call = (await _receiver.WaitForAsync(c => c.Count >= 1))[0];

        Assert.Equal("receiver-wants-this/2", call.Header("User-Agent"));
    }

    [Fact]
    public async Task Receiver_FailingTwiceThenSucceeding_GetsTheMessageThreeTimesThenNoMore()
    {
        var topic = SluiceApi.NewTopic("wh-retry");
        _receiver.Respond = c => Task.FromResult(c.Index <= 2 ? new ReceiverAnswer(500) : ReceiverAnswer.Ok);
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, retry = new { initialIntervalMs = 20, maxIntervalMs = 100, maxAttempts = 5 } });
        var id = created.GetProperty("id").GetString()!;

        await _client.ProduceAsync(topic, "once");
        var calls = await _receiver.WaitForAsync(c => c.Count >= 3);
        Assert.Equal(["1", "2", "3"], calls.Select(c => c.Header("Sluice-Attempt")));
        Assert.All(calls, c => Assert.Equal("once", c.Text));

        // Acked after the third: stats settle with one delivery, and no fourth call comes.
        var stats = await _client.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == 1);
        Assert.Equal(2, stats.GetProperty("retried").GetInt64());
        Assert.Equal("HTTP 500", stats.GetProperty("lastError").GetString());
        await Task.Delay(1000);
        Assert.Equal(3, _receiver.Calls.Count);
    }

    [Fact]
    public async Task TooManyRequests_RetriesNoSoonerThanRetryAfter()
    {
        var topic = SluiceApi.NewTopic("wh-429");
        _receiver.Respond = c => Task.FromResult(c.Index == 1 ? new ReceiverAnswer(429, Headers: new() { ["Retry-After"] = "1" }) : ReceiverAnswer.Ok);
        await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, retry = new { initialIntervalMs = 10, maxIntervalMs = 20 } });

        await _client.ProduceAsync(topic, "slow down");
        var calls = await _receiver.WaitForAsync(c => c.Count >= 2);
        var gap = calls[1].ArrivedAt - calls[0].ArrivedAt;
        Assert.True(gap >= TimeSpan.FromSeconds(1), $"the retry came {gap.TotalMilliseconds} ms after the 429 with Retry-After: 1");
    }

    [Fact]
    public async Task PerKeyOrdering_HoldsUnderConcurrency8_WithFailuresAndRetries()
    {
        const int Keys = 6;
        const int PerKey = 15;
        var topic = SluiceApi.NewTopic("wh-order");
        var inFlight = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var maxConcurrent = 0;
        var concurrent = 0;
        var delivered = new ConcurrentDictionary<string, ConcurrentQueue<int>>();
        _receiver.Respond = async c =>
        {
            var key = c.Header("Sluice-Key");
            if (inFlight.AddOrUpdate(key, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            var now = Interlocked.Increment(ref concurrent);
            InterlockedMax(ref maxConcurrent, now);
            try
            {
                await Task.Delay(Random.Shared.Next(0, 15));

                // Every fifth call of a message fails once, so retries happen in the middle of each key's stream.
                var failed = c.Header("Sluice-Attempt") == "1" && Random.Shared.Next(5) == 0;
                if (!failed)
                {
                    delivered.GetOrAdd(key, _ => new()).Enqueue(int.Parse(c.Text.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
                }

                return failed ? new ReceiverAnswer(503) : ReceiverAnswer.Ok;
            }
            finally
            {
                Interlocked.Decrement(ref concurrent);
                inFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
            }
        };
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, concurrency = 8, ordering = "per_key", retry = new { initialIntervalMs = 10, maxIntervalMs = 50, maxAttempts = 100 } });
        var id = created.GetProperty("id").GetString()!;

        // One batch: every key's messages are in the log before delivery starts, so keys compete for the 8 slots.
        var records = Enumerable.Range(0, PerKey).SelectMany(i => Enumerable.Range(0, Keys).Select(k => new { key = "key" + k, value = $"key{k}:{i}" })).ToArray();
        await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages = records }) });

        await _client.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == Keys * PerKey, timeoutSeconds: 40);
        Assert.Equal(0, overlaps);
        Assert.Equal(Keys, delivered.Count);
        foreach (var (key, values) in delivered)
        {
            Assert.Equal(Enumerable.Range(0, PerKey), values.ToArray());
        }

        output.WriteLine($"most calls at once: {maxConcurrent}");
        Assert.InRange(maxConcurrent, 2, 8); // keys in parallel, never more calls at once than the webhook's concurrency
    }

    [Fact]
    public async Task BadRequest_DeadLettersAtOnce_WithTheReason()
    {
        var topic = SluiceApi.NewTopic("wh-400");
        var dlq = topic + "-dead";
        await _client.PutSubscriptionAsync(dlq, "inspect", new { position = "earliest" });
        _receiver.Respond = _ => Task.FromResult(new ReceiverAnswer(400));
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, deadLetterTopic = dlq, retry = new { initialIntervalMs = 10 } });
        var id = created.GetProperty("id").GetString()!;

        await _client.ProduceAsync(topic, "unwanted");
        var dead = await _client.DrainAsync(dlq, "inspect", 1);
        Assert.Equal("unwanted", Assert.Single(dead).Value());
        var headers = dead[0].GetProperty("headers");
        Assert.Contains("HTTP 400", headers.GetProperty("sluice-dlq-reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(topic, headers.GetProperty("sluice-dlq-source-topic").GetString());
        Assert.Single(_receiver.Calls);
        var stats = await _client.StatsAsync(id);
        Assert.Equal(1, stats.GetProperty("deadLettered").GetInt64());
        Assert.Equal(0, stats.GetProperty("retried").GetInt64());
    }

    [Fact]
    public async Task ExhaustedRetries_GoToTheDeadLetterTopic()
    {
        var topic = SluiceApi.NewTopic("wh-exhaust");
        await _client.PutSubscriptionAsync(topic + "-dlq", "inspect", new { position = "earliest" });
        _receiver.Respond = _ => Task.FromResult(new ReceiverAnswer(408));
        await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, retry = new { initialIntervalMs = 10, maxIntervalMs = 20, maxAttempts = 2 } });

        await _client.ProduceAsync(topic, "doomed");
        var dead = await _client.DrainAsync(topic + "-dlq", "inspect", 1);
        Assert.Equal("doomed", Assert.Single(dead).Value());
        Assert.StartsWith("retries-exhausted", dead[0].GetProperty("headers").GetProperty("sluice-dlq-reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, _receiver.Calls.Count);
    }

    [Fact]
    public async Task Breaker_OpensOnAFailingEndpoint_AndRecoversWithoutLosingMessages()
    {
        var topic = SluiceApi.NewTopic("wh-breaker");
        var failing = true;
        _receiver.Respond = _ => Task.FromResult(Volatile.Read(ref failing) ? new ReceiverAnswer(503) : ReceiverAnswer.Ok);
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, retry = new { initialIntervalMs = 10, maxIntervalMs = 50, maxAttempts = 1000 } });
        var id = created.GetProperty("id").GetString()!;

        for (var i = 0; i < 5; i++)
        {
            await _client.ProduceAsync(topic, "b" + i);
        }

        // The server opens the breaker after 3 consecutive failures.
        await _client.WaitForStatsAsync(id, s => s.GetProperty("breaker").GetProperty("state").GetString() is "open" or "half_open");
        Volatile.Write(ref failing, false);

        var stats = await _client.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == 5);
        Assert.Equal("closed", stats.GetProperty("breaker").GetProperty("state").GetString());
        var ok = _receiver.Calls.Where(c => c.Index > 0).GroupBy(c => c.Text).Select(g => g.Key).Order(StringComparer.Ordinal);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => "b" + i), ok);
    }

    [Fact]
    public async Task Reply_WithReplyTopicHeader_IsPublishedToThatTopic()
    {
        var topic = SluiceApi.NewTopic("wh-reply");
        var replies = SluiceApi.NewTopic("wh-replies");
        await _client.PutSubscriptionAsync(replies, "r", new { position = "earliest" });
        _receiver.Respond = c => Task.FromResult(c.Text == "beam"
            ? new ReceiverAnswer(200, "{\"from\":\"beam\"}", "application/json", new() { ["TopicFn"] = "persistent://" + replies })
            : new ReceiverAnswer(200, "pong:" + c.Text, "text/plain", new() { ["Sluice-Reply-Topic"] = replies }));
        await _client.CreateWebhookAsync(new { topic, url = _receiver.Url });

        await _client.ProduceAsync(topic, "ping");
        await _client.ProduceAsync(topic, "beam");
        var got = await _client.DrainAsync(replies, "r", 2);
        Assert.Equal(["pong:ping", "{\"from\":\"beam\"}"], got.Select(m => m.Value()).Order(StringComparer.Ordinal));
        var pong = got.Single(m => m.Value() == "pong:ping");
        Assert.StartsWith("text/plain", pong.GetProperty("headers").GetProperty("content-type").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pause_StopsCalls_AndResume_DeliversWhatWaited()
    {
        var topic = SluiceApi.NewTopic("wh-pause");
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url });
        var id = created.GetProperty("id").GetString()!;
        var paused = await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Post, $"/v1/webhooks/{id}/pause"));
        Assert.True(paused.GetProperty("paused").GetBoolean());

        await _client.ProduceAsync(topic, "waited");
        await Task.Delay(700);
        Assert.Empty(_receiver.Calls);
        Assert.True((await _client.StatsAsync(id)).GetProperty("paused").GetBoolean());

        await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Post, $"/v1/webhooks/{id}/resume"));
        Assert.Equal("waited", (await _receiver.WaitForAsync(c => c.Count == 1))[0].Text);
    }

    [Fact]
    public async Task Pause_WithACallInFlight_WaitsForItAndSettlesIt()
    {
        var topic = SluiceApi.NewTopic("wh-stop");
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _receiver.Respond = async _ =>
        {
            await answer.Task;
            return ReceiverAnswer.Ok;
        };
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, concurrency = 4 });
        var id = created.GetProperty("id").GetString()!;
        await _client.ProduceAsync(topic, "in flight");
        await _receiver.WaitForAsync(c => c.Count == 1);

        // Stopping the worker waits for the call in flight: the pause answers only once the receiver has.
        var pause = SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Post, $"/v1/webhooks/{id}/pause"));
        await Task.Delay(500);
        Assert.False(pause.IsCompleted, "the pause returned while a call was still in flight");
        answer.SetResult();
        Assert.True((await pause).GetProperty("paused").GetBoolean());

        // Settled (acked) before the pause returned: delivered once, and resuming does not send it again.
        var stats = await _client.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == 1);
        Assert.Equal(0, stats.GetProperty("inFlight").GetInt32());
        await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Post, $"/v1/webhooks/{id}/resume"));
        await Task.Delay(700);
        Assert.Single(_receiver.Calls);
    }

    [Fact]
    public async Task Put_ReplacesSettingsKeepingTheSecret_AndDelete_RemovesWebhookAndItsSubscription()
    {
        var topic = SluiceApi.NewTopic("wh-crud");
        var id = "crud-" + Guid.NewGuid().ToString("N")[..8];
        using var put = await _client.PutAsync($"/v1/webhooks/{id}", SluiceApi.Json(new { topic, url = _receiver.Url, concurrency = 2 }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var first = await SluiceApi.ReadJsonAsync(put);
        var secret = first.GetProperty("secret").GetString()!;
        Assert.Equal("webhook-" + id, first.GetProperty("subscription").GetString());
        Assert.Equal(topic + "-dlq", first.GetProperty("deadLetterTopic").GetString());

        using var again = await _client.PutAsync($"/v1/webhooks/{id}", SluiceApi.Json(new { topic, url = _receiver.Url, concurrency = 4, timeoutMs = 2000 }));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var second = await SluiceApi.ReadJsonAsync(again);
        Assert.False(second.TryGetProperty("secret", out _));
        Assert.Equal(4, second.GetProperty("concurrency").GetInt32());
        Assert.Equal(2000, second.GetProperty("timeoutMs").GetInt64());

        // 60 s: on Kafka the replaced worker's consumer may still have been joining the subscription's group when the PUT
        // stopped it; the new one's join can then wait for that member's session timeout before a rebalance completes.
        await _client.ProduceAsync(topic, "signed with the first secret");
        WebhookApi.AssertSigned((await _receiver.WaitForAsync(c => c.Count == 1, timeoutSeconds: 60))[0], secret);

        using var delete = await _client.DeleteAsync($"/v1/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await _client.GetAsync($"/v1/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("urn:sluice:problem:webhook-not-found", (await SluiceApi.ReadJsonAsync(gone)).GetProperty("type").GetString());
        using var subscription = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/webhook-{id}");
        Assert.Equal(HttpStatusCode.NotFound, subscription.StatusCode);
    }

    [Theory]
    [InlineData("{\"url\":\"http://127.0.0.1:1/\"}", "topic is required")]
    [InlineData("{\"topic\":\"a/b/c\",\"url\":\"ftp://example.com/\"}", "scheme")]
    [InlineData("{\"topic\":\"a/b/c\",\"url\":\"http://127.0.0.1:1/\",\"ordering\":\"random\"}", "ordering")]
    [InlineData("{\"topic\":\"a/b/c\",\"url\":\"http://127.0.0.1:1/\",\"secret\":\"plain\"}", "whsec_")]
    [InlineData("{\"topic\":\"a/b/c\",\"url\":\"http://127.0.0.1:1/\",\"concurrency\":0}", "concurrency")]
    [InlineData("{\"topic\":\"a/b/c\",\"url\":\"http://127.0.0.1:1/\",\"headers\":{\"webhook-id\":\"x\"}}", "set by the gateway")]
    [InlineData("{\"topic\":\"a/b/c\",\"url\":\"http://127.0.0.1:1/\",\"timout\":5}", "timout")]
    public async Task BadRegistration_Is400_SayingWhatIsWrong(string body, string expected)
    {
        using var response = await _client.PostAsync("/v1/webhooks", SluiceApi.Raw(body));
        var problem = await SluiceApi.ReadJsonAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, problem.ToString(), StringComparison.Ordinal);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
