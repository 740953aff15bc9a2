using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Webhooks;

/// <summary>
/// One server for the webhook tests, run with <c>--allow-private-webhooks</c> (the receivers are on loopback) and a
/// breaker that opens after 3 failures and probes after 300 ms, so the breaker test is quick.
/// </summary>
public sealed class WebhookServer : IAsyncLifetime
{
    public static readonly string[] Args = ["--allow-private-webhooks", "--webhook-breaker-failures", "3", "--webhook-breaker-cooldown-ms", "300", "--webhook-breaker-max-cooldown-ms", "1000"];

    public ServerProcess Server { get; } = new(Args);

    public HttpClient Client => Server.Client;

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Helpers for the webhook tests.</summary>
public static class WebhookApi
{
    public static async Task<JsonElement> CreateWebhookAsync(this HttpClient client, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/webhooks") { Content = SluiceApi.Json(body) };
        using var response = await client.SendAsync(request);
        var json = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /v1/webhooks answered {(int)response.StatusCode}: {json}");
        return json;
    }

    public static async Task<JsonElement> StatsAsync(this HttpClient client, string id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/webhooks/{id}/stats");
        return await SluiceApi.SendOkAsync(client, request);
    }

    /// <summary>Polls the stats until <paramref name="condition"/> holds.</summary>
    public static async Task<JsonElement> WaitForStatsAsync(this HttpClient client, string id, Func<JsonElement, bool> condition, int timeoutSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var stats = await client.StatsAsync(id);
            if (condition(stats))
            {
                return stats;
            }

            Assert.True(DateTime.UtcNow < deadline, $"stats did not reach the expected state within {timeoutSeconds} s: {stats}");
            await Task.Delay(50);
        }
    }

    /// <summary>Verifies a call's Standard Webhooks signature independently of the server's code.</summary>
    public static void AssertSigned(ReceivedCall call, string secret)
    {
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var id = call.Header("webhook-id");
        var timestamp = call.Header("webhook-timestamp");
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(call.Body).ToArray();
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
        Assert.Contains(expected, call.Header("webhook-signature").Split(' '));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture), now - 300, now + 300);
    }
}
