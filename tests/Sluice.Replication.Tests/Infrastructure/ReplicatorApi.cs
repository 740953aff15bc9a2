using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>The replicator routes, asserting success where a test expects it, and polling helpers.</summary>
public static class ReplicatorApi
{
    public static async Task<JsonElement> CreateReplicatorAsync(this HttpClient client, JsonObject body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/replicators") { Content = SluiceApi.Raw(body.ToJsonString()) };
        using var response = await client.SendAsync(request);
        var json = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /v1/replicators answered {(int)response.StatusCode}: {json}");
        return json;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body, string Text)> SendAsync(this HttpClient client, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = SluiceApi.Raw(body);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), text);
    }

    public static async Task<JsonElement> StatusAsync(this HttpClient client, string name)
    {
        var (status, body, text) = await client.SendAsync(HttpMethod.Get, $"/v1/replicators/{name}/status");
        Assert.True(status == HttpStatusCode.OK, $"status of {name} answered {(int)status}: {text}");
        return body;
    }

    public static async Task<JsonElement> WaitForStatusAsync(this HttpClient client, string name, Func<JsonElement, bool> condition, int timeoutSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var status = await client.StatusAsync(name);
            if (condition(status))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the status of {name} did not reach the expected state within {timeoutSeconds} s: {status}");
            await Task.Delay(100);
        }
    }

    /// <summary>Polls the target until it holds at least <paramref name="count"/> distinct offsets of the topic.</summary>
    public static async Task<IReadOnlyList<TargetRecord>> WaitForRecordsAsync(this ISinkTarget target, string topic, int count, int timeoutSeconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var records = await target.ReadAsync(topic);
            var distinct = records.Select(r => (r.Partition, r.Offset)).Distinct().Count();
            if (distinct >= count)
            {
                return records;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the target held {distinct} of {count} records of {topic} after {timeoutSeconds} s");
            await Task.Delay(200);
        }
    }

    public static async Task ExpectAsync(this HttpClient client, HttpMethod method, string path, HttpStatusCode expected, string? body = null)
    {
        var (status, _, text) = await client.SendAsync(method, path, body);
        Assert.True(status == expected, $"{method} {path} answered {(int)status}, expected {(int)expected}: {text}");
    }
}
