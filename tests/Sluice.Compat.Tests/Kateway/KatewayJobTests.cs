using System.Net;
using System.Text;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>kateway's delayed jobs (<c>POST/DELETE /v1/jobs/:topic/:ver</c>) over Sluice's delayed messages.</summary>
public sealed class KatewayJobTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task Job_DueInTwoSeconds_ArrivesOnceDue_WithItsKeyAndTag_NotBefore()
    {
        var topic = Names.Unique("jobs");
        var before = DateTimeOffset.UtcNow;
        var (status, id, _) = await AddJobAsync(topic, "remind me", "delay=2s&key=user-9", tag: "mail");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.False(string.IsNullOrEmpty(id));

        var answer = await NextMessageAsync(topic, "workers");
        Assert.True(DateTimeOffset.UtcNow >= before.AddSeconds(2), "a job was delivered before its time");
        Assert.Equal("remind me", answer.Messages.Single().Value);
        Assert.Equal("user-9", answer.Key);

        // Delivered like any message: every other API sees it, with the tag as its header.
        await _client.PutSubscriptionAsync($"app1/{topic}/v1", "sluice-reader", new { position = "earliest" });
        var pulled = Assert.Single(await _client.DrainAsync($"app1/{topic}/v1", "sluice-reader", 1));
        Assert.Equal("mail", pulled.GetProperty("headers").GetProperty("tag").GetString());
    }

    [Fact]
    public async Task CancelledJob_NeverArrives_ALaterJobOfTheSameKeyDoes()
    {
        var topic = Names.Unique("cancel");
        var cancelled = await HoldAsync(topic, "cancelled", "delay=3s&key=k");
        using (var cancel = await CancelJobAsync(topic, cancelled))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            Assert.Equal("{\"ok\":1}", await cancel.Content.ReadAsStringAsync());
        }

        // Same key, same partition, due later: had the cancelled job fired, it would come first.
        await AddJobAsync(topic, "kept", "delay=4s&key=k");
        var answer = await NextMessageAsync(topic, "workers");
        Assert.Equal("kept", answer.Messages.Single().Value);
    }

    [Fact]
    public async Task PendingJob_IsInSluicesDelayedListing_UntilCancelled_ThenASecondCancelIs409()
    {
        var topic = Names.Unique("listed");
        var id = await HoldAsync(topic, "in an hour", "delay=1h");
        Assert.Contains(id, await PendingIdsAsync(topic));

        using (var cancel = await CancelJobAsync(topic, id))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        Assert.DoesNotContain(id, await PendingIdsAsync(topic));
        using var again = await CancelJobAsync(topic, id);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("already fired, cancelled or unknown", (await SluiceApi.ReadJsonAsync(again)).GetProperty("errmsg").GetString());
    }

    [Fact]
    public async Task Due_WinsOverDelay_APastDueTimeDeliversAtOnce()
    {
        var topic = Names.Unique("due");
        var past = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds();
        var (status, _, _) = await AddJobAsync(topic, "overdue", $"due={past}&delay=1h");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("overdue", (await NextMessageAsync(topic, "workers")).Messages.Single().Value);
    }

    [Theory]
    [InlineData("", "invalid delay format")]
    [InlineData("delay=soon", "invalid delay format")]
    [InlineData("delay=-5s", "invalid delay format")]
    [InlineData("delay=5parsecs", "invalid delay format")]
    [InlineData("due=tomorrow", "invalid due format")]
    [InlineData("due=-1", "invalid due format")]
    public async Task Job_WithABadTime_Gets400WithKatewaysMessage_AndNothingIsHeld(string query, string errmsg)
    {
        var topic = Names.Unique("badjob");
        await _client.PubAsync("app1", topic, "v1", "makes the topic");
        var (status, id, body) = await AddJobAsync(topic, "never", query);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Null(id);
        Assert.Equal(errmsg, body);
        Assert.Empty(await PendingIdsAsync(topic));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-job-id")]
    public async Task Cancel_WithAMissingOrMalformedId_Gets400InvalidJobId(string id)
    {
        var topic = Names.Unique("badcancel");
        await _client.PubAsync("app1", topic, "v1", "makes the topic");
        using var response = await CancelJobAsync(topic, id);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid job id", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    private async Task<(HttpStatusCode Status, string? Id, string? Errmsg)> AddJobAsync(string topic, string body, string query, string? tag = null)
    {
        using var request = KatewayApi.Request(HttpMethod.Post, $"/v1/jobs/{topic}/v1?{query}", "app1");
        request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        if (tag is not null)
        {
            request.Headers.Add("X-Tag", tag);
        }

        using var response = await _client.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            Assert.Equal("{\"ok\":1}", await response.Content.ReadAsStringAsync());
            return (response.StatusCode, response.Headers.GetValues("X-Job-Id").Single(), null);
        }

        return (response.StatusCode, null, (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    private async Task<string> HoldAsync(string topic, string body, string query)
    {
        var (status, id, errmsg) = await AddJobAsync(topic, body, query);
        Assert.True(status == HttpStatusCode.Created, $"job answered {(int)status}: {errmsg}");
        return id!;
    }

    private Task<HttpResponseMessage> CancelJobAsync(string topic, string id)
    {
        var request = KatewayApi.Request(HttpMethod.Delete, $"/v1/jobs/{topic}/v1?id={Uri.EscapeDataString(id)}", "app1");
        return _client.SendAsync(request);
    }

    private async Task<List<string>> PendingIdsAsync(string topic)
    {
        var listing = await SluiceApi.SendOkAsync(_client, new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/app1/{topic}/v1/delayed"));
        return [.. listing.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()!)];
    }

    /// <summary>Long-polls the group until a message comes (each poll answers 204 after the sub timeout when none is due).</summary>
    private async Task<KatewayAnswer> NextMessageAsync(string topic, string group)
    {
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (true)
        {
            var answer = await _client.SubAsync("app1", "app1", topic, "v1", group);
            if (answer.Status == HttpStatusCode.OK)
            {
                return answer;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"no message on {topic} within {Patience}");
        }
    }
}
