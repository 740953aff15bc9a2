using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.Server.Tests.Infrastructure;

/// <summary>Thin helpers over the HTTP API, asserting success where a test expects it.</summary>
public static class SluiceApi
{
    public static string NewTopic(string prefix = "t") => $"tests/ns/{prefix}-{Guid.NewGuid():N}";

    public static async Task<JsonElement> ProduceAsync(this HttpClient client, string topic, string value, string? key = null, IDictionary<string, string>? headers = null, int? partition = null)
    {
        var query = new List<string>();
        if (key is not null)
        {
            query.Add("key=" + Uri.EscapeDataString(key));
        }

        if (partition is not null)
        {
            query.Add("partition=" + partition);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages" + (query.Count > 0 ? "?" + string.Join('&', query) : ""))
        {
            Content = new StringContent(value, Encoding.UTF8, "text/plain"),
        };
        foreach (var (name, headerValue) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add("Sluice-Header-" + name, headerValue);
        }

        return await SendOkAsync(client, request);
    }

    public static async Task<JsonElement> PutSubscriptionAsync(this HttpClient client, string topic, string name, object settings)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/topics/{topic}/subscriptions/{name}") { Content = Json(settings) };
        return await SendOkAsync(client, request);
    }

    public static async Task<List<JsonElement>> PullAsync(this HttpClient client, string topic, string subscription, string consumer = "c1", int max = 100, int waitMs = 0)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/{subscription}/messages?max={max}&waitMs={waitMs}");
        request.Headers.Add("Sluice-Consumer-Id", consumer);
        var body = await SendOkAsync(client, request);
        return [.. body.GetProperty("messages").EnumerateArray()];
    }

    public static async Task<JsonElement> AckAsync(this HttpClient client, string topic, string subscription, IEnumerable<string> ackIds)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/subscriptions/{subscription}/acks") { Content = Json(new { ackIds = ackIds.ToArray() }) };
        return await SendOkAsync(client, request);
    }

    public static async Task<JsonElement> NackAsync(this HttpClient client, string topic, string subscription, IEnumerable<string> ackIds, int delayMs = 0)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/subscriptions/{subscription}/nacks") { Content = Json(new { ackIds = ackIds.ToArray(), delayMs }) };
        return await SendOkAsync(client, request);
    }

    public static async Task<JsonElement> GetTopicAsync(this HttpClient client, string topic)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}");
        return await SendOkAsync(client, request);
    }

    /// <summary>Per-partition end offsets; empty when the topic does not exist.</summary>
    public static async Task<long[]> EndOffsetsAsync(this HttpClient client, string topic)
    {
        using var response = await client.GetAsync($"/v1/topics/{topic}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        var body = await ReadJsonAsync(response);
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return [.. body.GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("endOffset").GetInt64())];
    }

    /// <summary>Pulls (and acks) until <paramref name="count"/> messages arrived or nothing comes for a while.</summary>
    public static async Task<List<JsonElement>> DrainAsync(this HttpClient client, string topic, string subscription, int count, string consumer = "drain", bool ack = true)
    {
        var all = new List<JsonElement>();
        var empty = 0;
        while (all.Count < count && empty < 5)
        {
            var batch = await client.PullAsync(topic, subscription, consumer, max: 1000, waitMs: 2000);
            if (batch.Count == 0)
            {
                empty++;
                continue;
            }

            all.AddRange(batch);
            if (ack)
            {
                await client.AckAsync(topic, subscription, batch.Select(m => m.GetProperty("ackId").GetString()!));
            }
        }

        return all;
    }

    public static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    public static StringContent Raw(string body, string contentType = "application/json")
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> SendOkAsync(HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request);
        var body = await ReadJsonAsync(response);
        Assert.True(response.IsSuccessStatusCode, $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode}: {body}");
        return body;
    }

    public static string Value(this JsonElement message) => message.GetProperty("value").GetString()!;

    public static string AckId(this JsonElement message) => message.GetProperty("ackId").GetString()!;

    public static JsonObject Obj(params (string Key, JsonNode? Value)[] properties)
    {
        var o = new JsonObject();
        foreach (var (key, value) in properties)
        {
            o[key] = value;
        }

        return o;
    }
}
