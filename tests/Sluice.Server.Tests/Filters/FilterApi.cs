using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Filters;

/// <summary>Helpers for the filter tests: mixed traffic where every fifth message matches <see cref="Eu"/>.</summary>
public static class FilterApi
{
    public const string Eu = "header.region = \"eu\"";

    /// <summary>Messages m{start}.. with header region "eu" for every fifth (i % 5 == 0), else "us"; keys k{i % 7}.</summary>
    public static async Task ProduceRegionsAsync(this HttpClient client, string topic, int count, int start = 0)
    {
        var messages = Enumerable.Range(start, count)
            .Select(i => new { key = $"k{i % 7}", value = $"m{i}", headers = new Dictionary<string, string> { ["region"] = IsEu(i) ? "eu" : "us" } })
            .ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages }) };
        await SluiceApi.SendOkAsync(client, request);
    }

    public static bool IsEu(int i) => i % 5 == 0;

    /// <summary>The values <see cref="ProduceRegionsAsync"/> gave the matching messages.</summary>
    public static List<string> EuValues(int count, int start = 0) => [.. Enumerable.Range(start, count).Where(IsEu).Select(i => $"m{i}").Order(StringComparer.Ordinal)];

    public static async Task<JsonElement> GetSubscriptionAsync(this HttpClient client, string topic, string name)
        => await SluiceApi.SendOkAsync(client, new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/{name}"));

    /// <summary>Polls the subscription until <paramref name="condition"/> holds (a generous bound; never a timing assertion).</summary>
    public static async Task<JsonElement> WaitForSubscriptionAsync(this HttpClient client, string topic, string name, Func<JsonElement, bool> condition, int timeoutSeconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var info = await client.GetSubscriptionAsync(topic, name);
            if (condition(info))
            {
                return info;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the subscription did not reach the expected state within {timeoutSeconds} s: {info}");
            await Task.Delay(50);
        }
    }

    public static long Lag(this JsonElement subscription) => subscription.GetProperty("partitions").EnumerateArray().Sum(p => p.GetProperty("lag").GetInt64());

    public static long FilteredOut(this JsonElement subscription) => subscription.GetProperty("filteredOut").GetInt64();

    /// <summary>Sends the request and returns the problem document, asserting its status and type.</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpClient client, HttpRequestMessage request, HttpStatusCode status, string kind)
    {
        using var response = await client.SendAsync(request);
        var body = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.StatusCode == status, $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode}, not {(int)status}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:sluice:problem:" + kind, body.GetProperty("type").GetString());
        return body;
    }

    public static HttpRequestMessage PutSubscription(string topic, string name, object body)
        => new(HttpMethod.Put, $"/v1/topics/{topic}/subscriptions/{name}") { Content = SluiceApi.Json(body) };
}
