using System.Net;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>kateway's acks by position (<c>ack=1</c>, <c>PUT /v1/offsets</c>) and its retry and dead queues.</summary>
public sealed class KatewayAckTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task PubSubAckLoop_AcrossReconnects_LosesNothing_AndRepeatsNothingAcked()
    {
        var topic = Names.Unique("loop");
        var sent = new HashSet<string>();
        for (var i = 0; i < 40; i++)
        {
            var value = "msg-" + i;
            await _client.PubAsync("app1", topic, "v1", value, key: "k" + (i % 7));
            sent.Add(value);
        }

        // kateway's consumer loop: each request acks the last message processed, and a new connection every few messages.
        var received = new List<string>();
        (int, long)? last = null;
        HttpClient? connection = null;
        try
        {
            for (var n = 0; n < 200 && received.Count < sent.Count; n++)
            {
                if (n % 5 == 0)
                {
                    connection?.Dispose();
                    connection = fixture.NewClient();
                }

                var answer = await connection!.SubAsync("app1", "app1", topic, "v1", "loopers", ack: true, acked: last);
                if (answer.Status == HttpStatusCode.OK)
                {
                    received.Add(answer.Messages.Single().Value);
                    last = answer.Last;
                }
            }

            // The last one is acked by the next request, which finds nothing more.
            var final = await connection!.SubAsync("app1", "app1", topic, "v1", "loopers", ack: true, acked: last);
            Assert.Equal(HttpStatusCode.NoContent, final.Status);
        }
        finally
        {
            connection?.Dispose();
        }

        Assert.Equal(sent.Order(), received.Order());
        Assert.Equal(received.Count, received.Distinct().Count());

        // Everything acked: the group has no lag left.
        var status = await _client.SendOkAsync(KatewayApi.Request(HttpMethod.Get, $"/v1/status/app1/{topic}/v1?group=loopers", "app1", keyHeader: "Subkey"));
        var partitions = System.Text.Json.JsonDocument.Parse(status).RootElement.EnumerateArray().ToList();
        Assert.NotEmpty(partitions);
        Assert.All(partitions, p => Assert.Equal(p.GetProperty("pubd").GetInt64(), p.GetProperty("subd").GetInt64()));
    }

    [Fact]
    public async Task UnackedMessage_OfAClientThatDied_IsDeliveredAgain()
    {
        var topic = Names.Unique("died");
        var group = "phoenix";

        // A short ack deadline on the group's subscription, so the redelivery comes soon (kateway's group = {app}.{group}).
        await _client.PutSubscriptionAsync($"app1/{topic}/v1", $"app1.{group}", new { type = "shared", position = "earliest", ackDeadlineMs = 500 });
        await _client.PubAsync("app1", topic, "v1", "must survive");

        using (var dying = fixture.NewClient())
        {
            var taken = await dying.SubAsync("app1", "app1", topic, "v1", group, ack: true);
            Assert.Equal("must survive", taken.Messages.Single().Value);
        }

        // The client died without acking: a new one gets it once the deadline passes.
        KatewayAnswer again;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            again = await _client.SubAsync("app1", "app1", topic, "v1", group, ack: true);
        }
        while (again.Status != HttpStatusCode.OK && DateTime.UtcNow < deadline);

        Assert.Equal("must survive", again.Messages.Single().Value);
    }

    [Fact]
    public async Task BatchAnswer_AckOfItsKthMessage_AcksTheFirstK_AndTheRestComeAgain()
    {
        var topic = Names.Unique("batchack");
        await _client.PutAsync($"/v1/topics/app1/{topic}/v1", SluiceApi.Json(new { partitions = 2 }));
        await _client.PutSubscriptionAsync($"app1/{topic}/v1", "app1.batchers", new { type = "shared", position = "earliest", ackDeadlineMs = 3000 });
        for (var i = 0; i < 6; i++)
        {
            await _client.PubAsync("app1", topic, "v1", "b" + i, key: "k" + i);
        }

        // The client processed the answer in order up to its second-to-last message, and says so on its next request.
        var answer = await _client.SubAsync("app1", "app1", topic, "v1", "batchers", batch: 10, ack: true);
        Assert.True(answer.Messages.Count >= 2, $"expected a batch, got {answer.Messages.Count}");
        var processed = answer.Messages.Take(answer.Messages.Count - 1).ToList();
        (int, long)? last = (processed[^1].Partition, processed[^1].Offset);

        // What it did not ack comes again once its three-second deadline passes; what it acked never does.
        var later = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (later.Distinct().Count() < 6 - processed.Count && DateTime.UtcNow < deadline)
        {
            var next = await _client.SubAsync("app1", "app1", topic, "v1", "batchers", batch: 10, ack: true, acked: last);
            last = null;
            if (next.Status == HttpStatusCode.OK)
            {
                later.AddRange(next.Messages.Select(m => m.Value));
                last = next.Last;
            }
        }

        Assert.Empty(later.Intersect(processed.Select(m => m.Value)));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => "b" + i).Except(processed.Select(m => m.Value)).Order(), later.Distinct().Order());
    }

    [Fact]
    public async Task PutOffsets_AcksTheMessagesItNames()
    {
        var topic = Names.Unique("offsets");
        await _client.PutSubscriptionAsync($"app1/{topic}/v1", "app1.committers", new { type = "shared", position = "earliest", ackDeadlineMs = 1000 });
        await _client.PubAsync("app1", topic, "v1", "to ack");
        var answer = await _client.SubAsync("app1", "app1", topic, "v1", "committers", ack: true);
        var (p, o) = answer.Last;

        using var put = KatewayApi.Request(HttpMethod.Put, $"/v1/offsets/app1/{topic}/v1/committers", "app1", keyHeader: "Subkey");
        put.Content = KatewayApi.Json(new[] { new { partition = p, offset = o } });
        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(put));

        // Well past the 1 s deadline: it is not delivered again.
        await Task.Delay(2500);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.SubAsync("app1", "app1", topic, "v1", "committers", ack: true)).Status);
    }

    [Fact]
    public async Task Bury_ThenReadTheRetryQueue_AndFromThereToTheDeadQueue()
    {
        var topic = Names.Unique("bury");
        await _client.PutSubscriptionAsync($"app1/{topic}/v1", "app1.buriers", new { type = "shared", position = "earliest", ackDeadlineMs = 1000 });
        await _client.PubAsync("app1", topic, "v1", "poison");
        var answer = await _client.SubAsync("app1", "app1", topic, "v1", "buriers", ack: true);
        await BuryAsync(topic, "retry", answer.Last, "poison", queue: null);

        // The retry queue holds it (kateway could not read it back); the topic does not deliver it again.
        var retried = await _client.SubAsync("app1", "app1", topic, "v1", "buriers", ack: true, queue: "retry");
        Assert.Equal("poison", retried.Messages.Single().Value);
        await Task.Delay(2500);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.SubAsync("app1", "app1", topic, "v1", "buriers", ack: true)).Status);

        // From the retry queue on to the dead queue.
        await BuryAsync(topic, "dead", retried.Last, "poison", queue: "retry");
        Assert.Equal("poison", (await _client.SubAsync("app1", "app1", topic, "v1", "buriers", queue: "dead")).Messages.Single().Value);
    }

    [Fact]
    public async Task Bury_WithABadTarget_Gets400()
    {
        using var request = KatewayApi.Request(HttpMethod.Put, $"/v1/msgs/app1/{Names.Unique("b")}/v1?group=g", "app1", keyHeader: "Subkey");
        request.Headers.Add("X-Bury", "heaven");
        request.Content = new StringContent("x");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("illegal bury", (await SluiceApi.ReadJsonAsync(response)).GetProperty("errmsg").GetString());
    }

    private async Task BuryAsync(string topic, string target, (int Partition, long Offset) at, string body, string? queue)
    {
        using var request = KatewayApi.Request(HttpMethod.Put, $"/v1/msgs/app1/{topic}/v1?group=buriers" + (queue is null ? "" : "&q=" + queue), "app1", keyHeader: "Subkey");
        request.Headers.Add("X-Bury", target);
        request.Headers.Add("X-Partition", at.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-Offset", at.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content = new StringContent(body);
        Assert.Equal("{\"ok\":1}", await _client.SendOkAsync(request));
    }
}
