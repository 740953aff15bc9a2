using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Delay;

/// <summary>Helpers for delayed messages over the HTTP API.</summary>
public static class DelayApi
{
    /// <summary>Generous bound on lateness in tests: only a hang fails it; the benchmark measures the real figure.</summary>
    public static readonly TimeSpan LatenessBound = TimeSpan.FromSeconds(60);

    public static async Task<JsonElement> ProduceDelayedAsync(this HttpClient client, string topic, string value, IDictionary<string, string> headers, string query = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages{query}") { Content = new StringContent(value, Encoding.UTF8, "text/plain") };
        foreach (var (name, headerValue) in headers)
        {
            request.Headers.Add(name, headerValue);
        }

        return await SluiceApi.SendOkAsync(client, request);
    }

    public static Task<JsonElement> ProduceAfterAsync(this HttpClient client, string topic, string value, int delayMs, int? partition = null)
        => client.ProduceDelayedAsync(topic, value, new Dictionary<string, string> { ["Sluice-Deliver-After"] = delayMs.ToString(CultureInfo.InvariantCulture) }, partition is null ? "" : $"?partition={partition}");

    public static async Task<(HttpStatusCode Status, JsonElement Body)> CancelAsync(this HttpClient client, string topic, string id)
    {
        using var response = await client.DeleteAsync($"/v1/topics/{topic}/delayed/{id}");
        return (response.StatusCode, await SluiceApi.ReadJsonAsync(response));
    }

    public static async Task<JsonElement> ListDelayedAsync(this HttpClient client, string topic, int? limit = null, string? after = null)
    {
        var query = new List<string>();
        if (limit is not null)
        {
            query.Add($"limit={limit}");
        }

        if (after is not null)
        {
            query.Add("after=" + Uri.EscapeDataString(after));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/delayed" + (query.Count > 0 ? "?" + string.Join('&', query) : ""));
        return await SluiceApi.SendOkAsync(client, request);
    }

    public static DateTimeOffset DeliverAt(this JsonElement answer) => answer.GetProperty("deliverAt").GetDateTimeOffset();

    public static string Id(this JsonElement element) => element.GetProperty("id").GetString()!;

    /// <summary>
    /// Long-polls (acking) until <paramref name="count"/> messages arrived, noting when each arrived by the test's clock;
    /// bounded by <paramref name="guard"/> against a hang only.
    /// </summary>
    public static async Task<List<(JsonElement Message, DateTimeOffset ReceivedAt)>> ReceiveAsync(this HttpClient client, string topic, string subscription, int count, TimeSpan guard)
    {
        var all = new List<(JsonElement, DateTimeOffset)>();
        using var cts = new CancellationTokenSource(guard);
        while (all.Count < count)
        {
            if (cts.IsCancellationRequested)
            {
                throw new TimeoutException($"{all.Count} of {count} messages arrived within {guard}");
            }

            var batch = await client.PullAsync(topic, subscription, "delay-test", max: 1000, waitMs: 500);
            var at = DateTimeOffset.UtcNow;
            all.AddRange(batch.Select(m => (m, at)));
            if (batch.Count > 0)
            {
                await client.AckAsync(topic, subscription, batch.Select(m => m.AckId()));
            }
        }

        return all;
    }

    public static string? DelayIdHeader(this JsonElement message)
        => message.GetProperty("headers").TryGetProperty("sluice-delay-id", out var id) ? id.GetString() : null;
}
