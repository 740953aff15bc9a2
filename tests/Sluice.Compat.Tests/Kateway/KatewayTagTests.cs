using System.Net;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Kateway;

/// <summary>kateway's tags: <c>X-Tag</c> on publish marks a message, <c>X-Tag</c> on a pull filters (a subscription filter).</summary>
public sealed class KatewayTagTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task Pull_WithATag_GetsOnlyMessagesOfThatTag_AndAListMatchesAnyOfIt()
    {
        var topic = Names.Unique("tags");
        await _client.PubAsync("app1", topic, "v1", "red one", tag: "red");
        await _client.PubAsync("app1", topic, "v1", "blue one", tag: "blue");
        await _client.PubAsync("app1", topic, "v1", "untagged");
        await _client.PubAsync("app1", topic, "v1", "red two", tag: "red");

        Assert.Equal(["red one", "red two"], (await DrainAsync(topic, "painters", "red")).Order());
        Assert.Equal(["blue one", "red one", "red two"], (await DrainAsync(topic, "painters", "red;blue")).Order());
        Assert.Equal(["blue one", "red one", "red two", "untagged"], (await DrainAsync(topic, "painters", null)).Order());
    }

    [Fact]
    public async Task Tag_IsTheMessagesTagHeader_ForEveryOtherApi()
    {
        var topic = Names.Unique("tagheader");
        await _client.PubAsync("app1", topic, "v1", "tagged", tag: "green");
        await _client.PutSubscriptionAsync($"app1/{topic}/v1", "sluice-reader", new { position = "earliest" });
        var pulled = await _client.DrainAsync($"app1/{topic}/v1", "sluice-reader", 1);
        Assert.Equal("green", Assert.Single(pulled).GetProperty("headers").GetProperty("tag").GetString());
    }

    private async Task<List<string>> DrainAsync(string topic, string group, string? tag)
    {
        var values = new List<string>();
        while (true)
        {
            var answer = await _client.SubAsync("app1", "app1", topic, "v1", group, batch: 100, tag: tag);
            if (answer.Status == HttpStatusCode.NoContent)
            {
                return values;
            }

            values.AddRange(answer.Messages.Select(m => m.Value));
        }
    }
}
