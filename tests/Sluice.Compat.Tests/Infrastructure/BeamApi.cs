using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Infrastructure;

/// <summary>Pulsar Beam's client side, as its users' code calls it.</summary>
public static class BeamApi
{
    /// <summary><c>POST /v2/firehose/persistent/{topic}</c>; asserts 200 with an empty body.</summary>
    public static async Task FirehoseAsync(this HttpClient client, string topic, string body, string persistent = "persistent")
    {
        using var response = await client.PostAsync($"/v2/firehose/{persistent}/{topic}", new StringContent(body, Encoding.UTF8, "text/plain"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"firehose answered {(int)response.StatusCode}: {text}");
        Assert.Equal("", text);
    }

    /// <summary><c>GET /v2/poll/p/{topic}</c>: the answer, or null for 204.</summary>
    public static async Task<JsonElement?> PollAsync(this HttpClient client, string topic, string? subscription, int batchSize = 10, int perMessageTimeoutMs = 300, string? extra = null)
    {
        var query = $"?batchSize={batchSize}&perMessageTimeoutMs={perMessageTimeoutMs}" + (subscription is null ? "" : "&SubscriptionName=" + subscription) + (extra ?? "");
        using var response = await client.GetAsync($"/v2/poll/p/{topic}{query}");
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        var body = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"poll answered {(int)response.StatusCode}: {body}");
        return body;
    }

    /// <summary>The payloads of a poll answer, decoded.</summary>
    public static List<string> Payloads(JsonElement? answer)
        => answer is { } a ? [.. a.GetProperty("messages").EnumerateArray().Select(m => Encoding.UTF8.GetString(m.GetProperty("payload").GetBytesFromBase64()))] : [];

    /// <summary>Polls until <paramref name="count"/> payloads came (acked by the server as each answer is written).</summary>
    public static async Task<List<string>> PollAllAsync(this HttpClient client, string topic, string subscription, int count, int timeoutSeconds = 30)
    {
        var all = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (all.Count < count && DateTime.UtcNow < deadline)
        {
            all.AddRange(Payloads(await client.PollAsync(topic, subscription, batchSize: 100, perMessageTimeoutMs: 500)));
        }

        return all;
    }

    /// <summary>A topic document for <paramref name="topicFullName"/> on Beam's usual cluster URL.</summary>
    public static object Document(string topicFullName, params object[] webhooks) => new
    {
        TopicFullName = topicFullName,
        PulsarURL = "pulsar+ssl://useast1.gcp.kafkaesque.io:6651",
        Token = "eyJhbGciOiJIUzI1NiJ9.e30.the-topic-token",
        Tenant = "tenant-notes",
        Notes = "made by a test",
        Webhooks = webhooks,
    };
}
