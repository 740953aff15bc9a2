using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Filters;

/// <summary>Filtered subscriptions over pull, their settings and their errors, on the real server.</summary>
public sealed class FilterPullTests(SharedServer shared, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private readonly HttpClient _client = shared.Client;

    public void Dispose() => shared.Server.WriteOutputTo(output, lastLines: 50);

    [Fact]
    public async Task Pull_FilteredSubscription_DeliversOnlyMatches_CountsTheRestExactly_LagReachesZero()
    {
        const int Count = 200;
        var topic = SluiceApi.NewTopic("filter");
        var created = await _client.PutSubscriptionAsync(topic, "eu", new { position = "earliest", filter = FilterApi.Eu });
        Assert.Equal(FilterApi.Eu, created.GetProperty("filter").GetString());
        await _client.ProduceRegionsAsync(topic, Count);

        var delivered = await _client.DrainAsync(topic, "eu", Count / 5);

        Assert.Equal(FilterApi.EuValues(Count), delivered.Select(m => m.Value()).Order(StringComparer.Ordinal).ToList());
        Assert.All(delivered, m => Assert.Equal("eu", m.GetProperty("headers").GetProperty("region").GetString()));
        var info = await _client.WaitForSubscriptionAsync(topic, "eu", s => s.Lag() == 0 && s.FilteredOut() == Count - (Count / 5));
        Assert.Equal(0, info.GetProperty("backlog").GetInt64());
        Assert.Equal(0, info.GetProperty("inFlight").GetInt32());
        Assert.Equal(Count - (Count / 5), info.FilteredOut());

        // Nothing else comes, and the count does not move once everything was read.
        Assert.Empty(await _client.PullAsync(topic, "eu", "drain", waitMs: 500));
        Assert.Equal(Count - (Count / 5), (await _client.GetSubscriptionAsync(topic, "eu")).FilteredOut());
    }

    [Fact]
    public async Task Pull_FilterOnKeyAndHeaders_WithOrAndNot()
    {
        var topic = SluiceApi.NewTopic("filter");
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest", filter = "(key = \"k1\" OR hasPrefix(key, \"k6\")) AND NOT header.region = 'eu'" });
        await _client.ProduceRegionsAsync(topic, 70);

        var delivered = await _client.DrainAsync(topic, "s", 70);

        var expected = Enumerable.Range(0, 70).Where(i => i % 7 is 1 or 6 && !FilterApi.IsEu(i)).Select(i => $"m{i}").Order(StringComparer.Ordinal);
        Assert.Equal(expected, delivered.Select(m => m.Value()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Pull_UnfilteredBesideFiltered_GetsEverything()
    {
        var topic = SluiceApi.NewTopic("filter");
        await _client.PutSubscriptionAsync(topic, "all", new { position = "earliest" });
        await _client.PutSubscriptionAsync(topic, "eu", new { position = "earliest", filter = FilterApi.Eu });
        await _client.ProduceRegionsAsync(topic, 50);

        Assert.Equal(50, (await _client.DrainAsync(topic, "all", 50)).Count);
        Assert.Equal(10, (await _client.DrainAsync(topic, "eu", 10)).Count);
        var all = await _client.GetSubscriptionAsync(topic, "all");
        Assert.Equal(0, all.FilteredOut());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, all.GetProperty("filter").ValueKind);
    }

    [Theory]
    [InlineData("header.region = eu", 17, "expected a string in quotes")]
    [InlineData("header.region = \"eu\" and key = \"k\"", 22, "operators are upper case: AND")]
    [InlineData("header:a AND header:b OR header:c", 23, "AND and OR cannot be mixed without parentheses")]
    [InlineData("(header:a", 10, "expected ')'")]
    [InlineData("   ", 4, "expected a condition")]
    public async Task Put_InvalidFilter_400WithPositionAndWhatWasExpected_NothingCreated(string filter, int position, string expected)
    {
        var topic = SluiceApi.NewTopic("filter");
        var problem = await _client.ProblemAsync(FilterApi.PutSubscription(topic, "s", new { filter }), HttpStatusCode.BadRequest, "invalid-filter");

        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains($"position {position}", detail, StringComparison.Ordinal);
        Assert.Contains(expected, detail, StringComparison.Ordinal);
        using var get = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/s");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_FilterOverTheLimits_400()
    {
        var topic = SluiceApi.NewTopic("filter");
        var tooLong = "header.tag IN (" + string.Join(", ", Enumerable.Range(0, 200).Select(i => $"\"tag-{i}\"")) + ")";
        var problem = await _client.ProblemAsync(FilterApi.PutSubscription(topic, "s", new { filter = tooLong }), HttpStatusCode.BadRequest, "invalid-filter");
        Assert.Contains("at most 1024 bytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var tooDeep = new string('(', 17) + "header:a" + new string(')', 17);
        problem = await _client.ProblemAsync(FilterApi.PutSubscription(topic, "s", new { filter = tooDeep }), HttpStatusCode.BadRequest, "invalid-filter");
        Assert.Contains("at most 16 levels", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_DifferentFilterOnExistingSubscription_409_SameOrOmittedFilterKeepsIt()
    {
        var topic = SluiceApi.NewTopic("filter");
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest", filter = FilterApi.Eu });

        var problem = await _client.ProblemAsync(FilterApi.PutSubscription(topic, "s", new { filter = "header.region = \"us\"" }), HttpStatusCode.Conflict, "filter-immutable");
        Assert.Contains("fixed at creation", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await _client.ProblemAsync(FilterApi.PutSubscription(topic, "s", new { filter = "" }), HttpStatusCode.Conflict, "filter-immutable");

        // Other settings still change; the filter stays, whether omitted or repeated in another spelling.
        var changed = await _client.PutSubscriptionAsync(topic, "s", new { ackDeadlineMs = 60_000 });
        Assert.Equal(FilterApi.Eu, changed.GetProperty("filter").GetString());
        Assert.Equal(60_000, changed.GetProperty("ackDeadlineMs").GetInt64());
        var same = await _client.PutSubscriptionAsync(topic, "s", new { filter = "header.Region='eu'" });
        Assert.Equal(60_000, same.GetProperty("ackDeadlineMs").GetInt64());

        // A subscription without a filter cannot get one.
        await _client.PutSubscriptionAsync(topic, "plain", new { position = "earliest" });
        await _client.ProblemAsync(FilterApi.PutSubscription(topic, "plain", new { filter = FilterApi.Eu }), HttpStatusCode.Conflict, "filter-immutable");

        await _client.ProduceRegionsAsync(topic, 10);
        Assert.Equal(FilterApi.EuValues(10), (await _client.DrainAsync(topic, "s", 2)).Select(m => m.Value()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Stream_FilterQueryOnExistingSubscription_DifferentFilter409_EmptyFilterMeansNone()
    {
        var topic = SluiceApi.NewTopic("filter");
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest", filter = FilterApi.Eu });

        var other = Uri.EscapeDataString("header.region = \"us\"");
        await _client.ProblemAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/s/events?filter={other}"), HttpStatusCode.Conflict, "filter-immutable");
        await _client.ProblemAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/s/events?filter="), HttpStatusCode.Conflict, "filter-immutable");
        var invalid = Uri.EscapeDataString("header.region =");
        var problem = await _client.ProblemAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/new/events?filter={invalid}"), HttpStatusCode.BadRequest, "invalid-filter");
        Assert.Contains("position 16", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
