using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Server.Tests.Security;

/// <summary>Webhooks under authentication: a webhook acts for its topic's tenant, in registration and in replies.</summary>
public sealed class WebhookAuthTests(AuthServer auth, ITestOutputHelper output) : IClassFixture<AuthServer>, IDisposable
{
    public void Dispose() => auth.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task Reply_ToAnotherTenantsTopic_IsDropped_AndToItsOwnTenant_IsPublished()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = c => Task.FromResult(new ReceiverAnswer(200, "reply:" + c.Text, "text/plain",
            new() { ["Sluice-Reply-Topic"] = c.Text == "steal" ? "rival/ns/stolen" : "acme/ns/replies" }));
        using var acme = auth.ClientWith(auth.Token("acme"));
        await acme.PutSubscriptionAsync("acme/ns/replies", "r", new { position = "earliest" });
        var created = await acme.CreateWebhookAsync(new { topic = "acme/ns/calls", url = receiver.Url });
        var id = created.GetProperty("id").GetString()!;

        await acme.ProduceAsync("acme/ns/calls", "steal");
        await acme.ProduceAsync("acme/ns/calls", "own");
        await auth.Admin.WaitForStatsAsync(id, s => s.GetProperty("delivered").GetInt64() == 2);

        using var stolen = await auth.Admin.GetAsync("/v1/topics/rival/ns/stolen");
        Assert.Equal(HttpStatusCode.NotFound, stolen.StatusCode);
        var replies = await acme.DrainAsync("acme/ns/replies", "r", 1);
        Assert.Equal(["reply:own"], replies.Select(m => m.GetProperty("value").GetString()));
        Assert.Contains("outside the webhook's tenant", auth.Server.Output, StringComparison.Ordinal);
        await acme.DeleteAsync($"/v1/webhooks/{id}");
    }

    [Fact]
    public async Task Webhook_ForAnotherTenantsTopic_OrDeadLetterTopic_IsRefused_AndNotCreated()
    {
        using var acme = auth.ClientWith(auth.Token("acme"));
        using var other = await acme.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic = "rival/ns/t", url = "http://127.0.0.1:9/x" }));
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        using var dlq = await acme.PostAsync("/v1/webhooks", SluiceApi.Json(new { topic = AuthServer.Topic, url = "http://127.0.0.1:9/x", deadLetterTopic = "rival/ns/dlq" }));
        Assert.Equal(HttpStatusCode.Forbidden, dlq.StatusCode);
        var all = await auth.Admin.GetStringAsync("/v1/webhooks");
        Assert.DoesNotContain("rival/", all, StringComparison.Ordinal);
    }
}
