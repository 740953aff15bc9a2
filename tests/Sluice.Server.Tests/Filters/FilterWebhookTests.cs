using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Server.Tests.Filters;

/// <summary>A webhook's filter is its subscription's: only matching messages are called, the rest counted in its stats.</summary>
public sealed class FilterWebhookTests(WebhookServer fixture, ITestOutputHelper output) : IClassFixture<WebhookServer>, IAsyncLifetime
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
    public async Task Webhook_WithFilter_CallsOnlyForMatches_StatsCountTheRest()
    {
        const int Count = 50;
        var topic = SluiceApi.NewTopic("whf");
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, concurrency = 4, filter = FilterApi.Eu });
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal(FilterApi.Eu, created.GetProperty("filter").GetString());

        await _client.ProduceRegionsAsync(topic, Count);

        var calls = await _receiver.WaitForAsync(c => c.Count >= Count / 5);
        var stats = await _client.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == Count / 5
            && s.GetProperty("inFlight").GetInt32() == 0 && s.GetProperty("backlog").GetInt64() == 0 && s.GetProperty("filteredOut").GetInt64() == Count - (Count / 5));
        Assert.Equal(FilterApi.EuValues(Count), calls.Select(c => c.Text).Order(StringComparer.Ordinal));
        Assert.All(calls, c => Assert.Equal("eu", c.Header("Sluice-Header-region")));

        // The webhook's subscription carries the filter.
        var subscription = await _client.GetSubscriptionAsync(topic, $"webhook-{id}");
        Assert.Equal(FilterApi.Eu, subscription.GetProperty("filter").GetString());

        // Everything was read (no backlog) and the other 40 were filtered, not delayed: no call beyond the matches.
        Assert.Equal(Count / 5, _receiver.Calls.Count);
        Assert.Equal(Count / 5, stats.GetProperty("delivered").GetInt64());
    }

    [Fact]
    public async Task Webhook_ReplacedWithAnotherFilter_409AndKeepsDelivering_OmittedFilterKeepsIt()
    {
        var topic = SluiceApi.NewTopic("whf");
        var created = await _client.CreateWebhookAsync(new { topic, url = _receiver.Url, filter = FilterApi.Eu });
        var id = created.GetProperty("id").GetString()!;

        var change = new HttpRequestMessage(HttpMethod.Put, $"/v1/webhooks/{id}") { Content = SluiceApi.Json(new { topic, url = _receiver.Url, filter = "header.region = \"us\"" }) };
        var problem = await _client.ProblemAsync(change, HttpStatusCode.Conflict, "filter-immutable");
        Assert.Contains("fixed at creation", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var invalid = new HttpRequestMessage(HttpMethod.Put, $"/v1/webhooks/{id}") { Content = SluiceApi.Json(new { topic, url = _receiver.Url, filter = "region = 'us'" }) };
        await _client.ProblemAsync(invalid, HttpStatusCode.BadRequest, "invalid-filter");

        // The refused change left the webhook running with its filter.
        await _client.ProduceRegionsAsync(topic, 10);
        var calls = await _receiver.WaitForAsync(c => c.Count >= 2);
        Assert.Equal(FilterApi.EuValues(10), calls.Select(c => c.Text).Order(StringComparer.Ordinal));

        // A replacement without a filter keeps the subscription's.
        var kept = new HttpRequestMessage(HttpMethod.Put, $"/v1/webhooks/{id}") { Content = SluiceApi.Json(new { topic, url = _receiver.Url, concurrency = 2 }) };
        var replaced = await SluiceApi.SendOkAsync(_client, kept);
        Assert.Equal(FilterApi.Eu, replaced.GetProperty("filter").GetString());
        Assert.Equal(2, replaced.GetProperty("concurrency").GetInt32());

        // A new subscription name may take another filter: the webhook moves, its old subscription goes.
        var moved = new HttpRequestMessage(HttpMethod.Put, $"/v1/webhooks/{id}")
        {
            Content = SluiceApi.Json(new { topic, url = _receiver.Url, subscription = "us-only", filter = "header.region = \"us\"" }),
        };
        var now = await SluiceApi.SendOkAsync(_client, moved);
        Assert.Equal("header.region = \"us\"", now.GetProperty("filter").GetString());
        using var old = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/webhook-{id}");
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
        await _client.ProduceRegionsAsync(topic, 5, start: 10);
        calls = await _receiver.WaitForAsync(c => c.Count >= 6);
        Assert.Equal(["m11", "m12", "m13", "m14"], calls.Skip(2).Select(c => c.Text).Order(StringComparer.Ordinal));
    }
}
