using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Security;

/// <summary>Per-tenant rate limits (429 with Retry-After, then served again) and quotas (409 quota-exceeded, nothing created).</summary>
public sealed class LimitsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RequestRate_Answers429WithRetryAfter_ThenServesAgain_AndOtherTenantsAreUnaffected()
    {
        await using var server = await ServerProcess.StartNewAsync(["--tenant-requests-per-second", "5"]);
        var topic = "limited/ns/t";
        HttpResponseMessage? limited = null;

        // No timing assumption: drive requests until the bucket is empty.
        for (var i = 0; i < 10_000 && limited is null; i++)
        {
            var response = await server.Client.GetAsync($"/v1/topics/{topic}/subscriptions");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound, $"unexpected {(int)response.StatusCode}");
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        using (limited)
        {
            var retryAfter = limited.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.True(retryAfter >= TimeSpan.FromSeconds(1));
            Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("urn:sluice:problem:rate-limited", problem.GetProperty("type").GetString());

            // Another tenant has its own bucket.
            using (var other = await server.Client.GetAsync("/v1/topics/other/ns/t/subscriptions"))
            {
                Assert.NotEqual(HttpStatusCode.TooManyRequests, other.StatusCode);
            }

            await Task.Delay(retryAfter!.Value + TimeSpan.FromMilliseconds(200));
        }

        using var again = await server.Client.GetAsync($"/v1/topics/{topic}/subscriptions");
        output.WriteLine($"after Retry-After: {(int)again.StatusCode}");
        Assert.NotEqual(HttpStatusCode.TooManyRequests, again.StatusCode);
    }

    [Fact]
    public async Task ByteRate_Answers429_WhenBodiesExceedIt()
    {
        await using var server = await ServerProcess.StartNewAsync(["--tenant-bytes-per-second", "65536"]);
        var topic = SluiceApi.NewTopic();
        var body = new string('x', 16 * 1024);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 1000 && !statuses.Contains(HttpStatusCode.TooManyRequests); i++)
        {
            using var response = await server.Client.PostAsync($"/v1/topics/{topic}/messages", new StringContent(body));
            statuses.Add(response.StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Quotas_RefuseTheNextTopicSubscriptionAndWebhook_With409_AndCreateNothing()
    {
        await using var server = await ServerProcess.StartNewAsync(["--topics-per-tenant", "2", "--subscriptions-per-tenant", "2", "--webhooks-per-tenant", "1", "--allow-private-webhooks"]);
        var client = server.Client;
        (await client.PutAsync("/v1/topics/q/ns/a", SluiceApi.Json(new { }))).EnsureSuccessStatusCode();
        await client.ProduceAsync("q/ns/b", "auto-created");

        await AssertQuotaAsync(await client.PutAsync("/v1/topics/q/ns/c", SluiceApi.Json(new { })), "topics");
        await AssertQuotaAsync(await client.PostAsync("/v1/topics/q/ns/d/messages", new StringContent("x")), "topics");
        var topics = await client.GetStringAsync("/v1/topics");
        Assert.DoesNotContain("q/ns/c", topics, StringComparison.Ordinal);
        Assert.DoesNotContain("q/ns/d", topics, StringComparison.Ordinal);

        // Another tenant is not counted against this one.
        (await client.PutAsync("/v1/topics/other/ns/c", SluiceApi.Json(new { }))).EnsureSuccessStatusCode();

        await client.PutSubscriptionAsync("q/ns/a", "s1", new { });
        await client.PullAsync("q/ns/b", "s2");
        await AssertQuotaAsync(await client.PutAsync("/v1/topics/q/ns/a/subscriptions/s3", SluiceApi.Json(new { })), "subscriptions");
        await AssertQuotaAsync(await client.GetAsync("/v1/topics/q/ns/a/subscriptions/s4/messages?waitMs=0"), "subscriptions");
        Assert.DoesNotContain("s3", await client.GetStringAsync("/v1/topics/q/ns/a/subscriptions"), StringComparison.Ordinal);

        (await client.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic = "other/ns/c", url = "http://127.0.0.1:9/a" }))).EnsureSuccessStatusCode();
        await AssertQuotaAsync(await client.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic = "other/ns/c", url = "http://127.0.0.1:9/b" })), "webhooks");
        Assert.Single(JsonDocument.Parse(await client.GetStringAsync("/v1/webhooks")).RootElement.GetProperty("webhooks").EnumerateArray());
    }

    private async Task AssertQuotaAsync(HttpResponseMessage response, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            output.WriteLine(body);
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            Assert.Contains("urn:sluice:problem:quota-exceeded", body, StringComparison.Ordinal);
            Assert.Contains(what, body, StringComparison.Ordinal);
        }
    }
}
