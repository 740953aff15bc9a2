using System.Net;
using System.Text.Json;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Compat.Tests.Beam;

/// <summary>Beam's topic documents (<c>/v2/topic</c>) and the webhooks they register.</summary>
public sealed class BeamTopicDocumentTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private const string PicassoTopic = "persistent://picasso/local-useast1-gcp/yet-another-test-topic";
    private const string PicassoUrl = "pulsar+ssl://useast1.gcp.kafkaesque.io:6651";
    private const string PicassoKey = "075fcf0870662590aa4b24939287f193a697ab26";

    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task Document_ForThePicassoTopic_HasBeamsKey_AndIsFoundByKeyAndByNames_ThenDeleted()
    {
        using (var post = await _client.PostAsync("/v2/topic", SluiceApi.Json(BeamApi.Document(PicassoTopic))))
        {
            var stored = await SluiceApi.ReadJsonAsync(post);
            Assert.True(post.StatusCode == HttpStatusCode.Created, stored.ToString());
            Assert.Equal(PicassoKey, stored.GetProperty("Key").GetString());
            Assert.Equal(PicassoTopic, stored.GetProperty("TopicFullName").GetString());
            Assert.Equal(PicassoUrl, stored.GetProperty("PulsarURL").GetString());
            Assert.Equal("made by a test", stored.GetProperty("Notes").GetString());
            Assert.Equal(JsonValueKind.Array, stored.GetProperty("Webhooks").ValueKind);
            Assert.True(stored.GetProperty("CreatedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));

            // Stored, never echoed in full.
            Assert.DoesNotContain("the-topic-token", stored.ToString(), StringComparison.Ordinal);
        }

        var byKey = JsonDocument.Parse(await _client.GetStringAsync("/v2/topic/" + PicassoKey)).RootElement;
        Assert.Equal(PicassoTopic, byKey.GetProperty("TopicFullName").GetString());

        // Go's decoder ignores the case of field names: so does this one.
        using var byNames = new HttpRequestMessage(HttpMethod.Get, "/v2/topic") { Content = SluiceApi.Json(new { topicFullName = PicassoTopic, pulsarURL = PicassoUrl }) };
        using (var found = await _client.SendAsync(byNames))
        {
            Assert.Equal(HttpStatusCode.OK, found.StatusCode);
            Assert.Equal(PicassoKey, (await SluiceApi.ReadJsonAsync(found)).GetProperty("Key").GetString());
        }

        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/v2/topic") { Content = SluiceApi.Json(new { TopicFullName = PicassoTopic, PulsarURL = PicassoUrl }) };
        using (var deleted = await _client.SendAsync(delete))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            Assert.Equal($"\"{PicassoKey}\"", await deleted.Content.ReadAsStringAsync());
        }

        using var gone = await _client.GetAsync("/v2/topic/" + PicassoKey);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("no document found", (await SluiceApi.ReadJsonAsync(gone)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Document_PostedAgainWithTheTokenHint_KeepsItsToken_AndItsCreationTime()
    {
        var topic = $"persistent://acme/ns/{Names.Unique("doc")}";
        var first = await PostAsync(BeamApi.Document(topic));
        var again = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(first.GetRawText())!;
        again["Notes"] = JsonSerializer.SerializeToElement("edited");
        var second = await PostAsync(again);
        Assert.Equal("edited", second.GetProperty("Notes").GetString());
        Assert.Equal(first.GetProperty("Token").GetString(), second.GetProperty("Token").GetString());
        Assert.Equal(first.GetProperty("CreatedAt").GetDateTimeOffset(), second.GetProperty("CreatedAt").GetDateTimeOffset());
        Assert.True(second.GetProperty("UpdatedAt").GetDateTimeOffset() >= first.GetProperty("UpdatedAt").GetDateTimeOffset());
    }

    [Theory]
    [InlineData("""{"TopicFullName":"persistent://acme/ns/t","PulsarURL":"http://not-pulsar"}""", "incorrect pulsar url format http://not-pulsar")]
    [InlineData("""{"TopicFullName":"persistent://acme/ns/t"}""", "missing PulsarURL or TopicFullName")]
    [InlineData("""{"TopicFullName":"persistent://acme/ns/t","PulsarURL":"pulsar://h:6650","Webhooks":[{"url":"not a url","subscription":"s1234"}]}""", "not a URL not a url")]
    [InlineData("""{"TopicFullName":"persistent://acme/ns/t","PulsarURL":"pulsar://h:6650","Webhooks":[{"url":"http://127.0.0.1:9/x"}]}""", "subscription name is missing")]
    [InlineData("""{"TopicFullName":"persistent://acme/ns/t","PulsarURL":"pulsar://h:6650","Webhooks":[{"url":"http://127.0.0.1:9/x","subscription":"s1234","subscriptionType":"fanout"}]}""", "unsupported subscription type fanout")]
    [InlineData("""{"TopicFullName":"persistent://acme/ns/t","PulsarURL":"pulsar://h:6650","Webhooks":[{"url":"http://127.0.0.1:9/x","subscription":"same1"},{"url":"http://127.0.0.1:9/y","subscription":"same1"}]}""", "exclusive subscription same1 cannot be shared between multiple webhooks")]
    [InlineData("""not json""", null)]
    public async Task BadDocument_Gets422_AndStoresNothing(string body, string? message)
    {
        using var response = await _client.PostAsync("/v2/topic", SluiceApi.Raw(body));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var error = (await SluiceApi.ReadJsonAsync(response)).GetProperty("error").GetString();
        if (message is not null)
        {
            Assert.Equal(message, error);
        }

        using var lookup = new HttpRequestMessage(HttpMethod.Get, "/v2/topic") { Content = SluiceApi.Json(new { TopicFullName = "persistent://acme/ns/t", PulsarURL = "pulsar://h:6650" }) };
        using var stored = await _client.SendAsync(lookup);
        Assert.Equal(HttpStatusCode.NotFound, stored.StatusCode);
    }

    [Fact]
    public async Task GetAndDelete_WithoutKeyOrNames_Get422()
    {
        using var get = await _client.GetAsync("/v2/topic");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, get.StatusCode);
        Assert.Equal("missing topic key or topic names in body", (await SluiceApi.ReadJsonAsync(get)).GetProperty("error").GetString());
        using var delete = await _client.DeleteAsync("/v2/topic/0000000000000000000000000000000000000000");
        Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
    }

    [Fact]
    public async Task Webhook_WithAReplyTopicFn_IsCalledWithBeamsHeaders_AndTheReplyIsPublished()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var name = Names.Unique("hooked");
        var replies = $"acme/ns/{name}-replies";
        receiver.Respond = call => Task.FromResult(new ReceiverAnswer(200, "reply to " + call.Text, "text/plain", new() { ["TopicFn"] = "persistent://" + replies }));
        var topic = $"persistent://acme/ns/{name}";
        var stored = await PostAsync(BeamApi.Document(topic, new
        {
            url = receiver.Url,
            headers = new[] { "X-Receiver-Token: abc:def" },
            subscription = "hook-sub",
            subscriptionType = "exclusive",
            initialPosition = "earliest",
            webhookStatus = 1,
        }));
        Assert.Equal(1, stored.GetProperty("Webhooks")[0].GetProperty("webhookStatus").GetInt32());

        await _client.FirehoseAsync($"acme/ns/{name}", "ping");
        var call = (await receiver.WaitForAsync(c => c.Count >= 1, timeoutSeconds: 60))[0];
        Assert.Equal("ping", call.Text);
        Assert.Equal(topic, call.Header("PulsarTopic"));
        Assert.Matches(@"^\d+:\d+$", call.Header("PulsarMessageId"));
        Assert.EndsWith("+0000 UTC", call.Header("PulsarPublishedTime"), StringComparison.Ordinal);
        Assert.Equal("abc:def", call.Header("X-Receiver-Token"));
        Assert.StartsWith("v1,", call.Header("webhook-signature"), StringComparison.Ordinal);

        // The reply went to the topic its TopicFn named, before the message was acked.
        await _client.PutSubscriptionAsync(replies, "reader", new { position = "earliest" });
        var reply = await _client.DrainAsync(replies, "reader", 1);
        Assert.Equal("reply to ping", Assert.Single(reply).Value());
    }

    [Fact]
    public async Task Webhook_DeactivatedOrRemoved_StopsCalling_AndDeletingTheDocumentRemovesIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var name = Names.Unique("toggled");
        var topic = $"persistent://acme/ns/{name}";
        object Hook(int status) => new { url = receiver.Url, subscription = "toggle-sub", initialPosition = "earliest", webhookStatus = status };

        var stored = await PostAsync(BeamApi.Document(topic, Hook(1)));
        await _client.FirehoseAsync($"acme/ns/{name}", "while active");
        await receiver.WaitForAsync(c => c.Count >= 1, timeoutSeconds: 60);
        Assert.Contains(receiver.Url, await _client.GetStringAsync("/v1/webhooks"), StringComparison.Ordinal);

        // webhookStatus 0 (deactivated): Beam ran no consumer for it; here there is no webhook.
        await PostAsync(BeamApi.Document(topic, Hook(0)));
        Assert.DoesNotContain(receiver.Url, await _client.GetStringAsync("/v1/webhooks"), StringComparison.Ordinal);
        await _client.FirehoseAsync($"acme/ns/{name}", "while off");

        // Active again: it continues its subscription, where the message published meanwhile waits.
        await PostAsync(BeamApi.Document(topic, Hook(1)));
        await receiver.WaitForAsync(c => c.Any(x => x.Text == "while off"), timeoutSeconds: 60);

        using var deleted = await _client.DeleteAsync("/v2/topic/" + stored.GetProperty("Key").GetString());
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.DoesNotContain(receiver.Url, await _client.GetStringAsync("/v1/webhooks"), StringComparison.Ordinal);
    }

    private async Task<JsonElement> PostAsync(object document)
    {
        using var response = await _client.PostAsync("/v2/topic", SluiceApi.Json(document));
        var body = await SluiceApi.ReadJsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /v2/topic answered {(int)response.StatusCode}: {body}");
        return body;
    }
}
