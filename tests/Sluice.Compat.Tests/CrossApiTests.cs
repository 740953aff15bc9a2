using System.Net;
using Sluice.Compat.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests;

/// <summary>
/// One topic, four APIs: Beam's <c>persistent://t/n/x</c>, kateway's <c>{appid}/{topic}/{ver}</c> and Sluice's
/// <c>t/n/x</c> are the same topic, so a message produced through one is consumed through the others.
/// </summary>
public sealed class CrossApiTests(CompatServer fixture, ITestOutputHelper output) : IClassFixture<CompatServer>, IDisposable
{
    private readonly HttpClient _client = fixture.Client;

    public void Dispose() => fixture.Server.WriteOutputTo(output, lastLines: 40);

    [Fact]
    public async Task ProducedThroughEachApi_IsConsumedThroughEveryOther()
    {
        // kateway app "acme", topic "ns", version x == Beam's persistent://acme/ns/x == Sluice's acme/ns/x.
        var name = Names.Unique("x");
        var topic = $"acme/ns/{name}";
        await _client.FirehoseAsync(topic, "from beam");
        await _client.PubAsync("acme", "ns", name, "from kateway");
        await _client.ProduceAsync(topic, "from sluice");
        string[] all = ["from beam", "from kateway", "from sluice"];

        await _client.PutSubscriptionAsync(topic, "sluice-view", new { position = "earliest" });
        Assert.Equal(all, (await _client.DrainAsync(topic, "sluice-view", 3)).Select(m => m.Value()).Order());

        Assert.Equal(all, (await _client.PollAllAsync(topic, "beam-view", 3)).Order());

        var kateway = new List<string>();
        while (kateway.Count < 3)
        {
            var answer = await _client.SubAsync("acme", "acme", "ns", name, "kateway-view", batch: 10);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            kateway.AddRange(answer.Messages.Select(m => m.Value));
        }

        Assert.Equal(all, kateway.Order());
    }
}
