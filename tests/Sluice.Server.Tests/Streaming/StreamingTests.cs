using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

/// <summary>
/// What every streaming test class shares: the server fixture, a client on it, one wait bound, and the
/// server's last lines copied into the test output, so a failure explains itself.
/// </summary>
public abstract class StreamingTests(StreamingServer fixture, ITestOutputHelper output) : IClassFixture<StreamingServer>, IAsyncLifetime
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    protected StreamingServer Fixture => fixture;

    protected HttpClient Client => fixture.Client;

    /// <summary>Messages of <see cref="NewTopicPastSocketBuffersAsync"/>: 60 x 256 KiB = 15 MiB.</summary>
    protected const int PastSocketBuffersCount = 60;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>
    /// A topic with a shared subscription "s" from the earliest message and 15 MiB in one partition: more than loopback
    /// socket buffers hold, so the server's writes to a reader that stopped reading block.
    /// </summary>
    protected async Task<string> NewTopicPastSocketBuffersAsync()
    {
        var topic = await Fixture.NewTopicAsync();
        await Client.PutSubscriptionAsync(topic, "s", new { type = "shared", position = "earliest" });
        var value = new string('x', 256 * 1024);
        for (var i = 0; i < PastSocketBuffersCount; i += 10)
        {
            var messages = Enumerable.Range(i, 10).Select(n => new { value = $"{n:D3}{value}" }).ToArray();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages }) };
            await SluiceApi.SendOkAsync(Client, request);
        }

        return topic;
    }

    /// <summary>Another consumer gets every message of that topic, some of them as redeliveries (what a cut reader held).</summary>
    protected async Task AssertAnotherConsumerGetsEveryMessageAsync(string topic)
    {
        var drained = await Client.DrainAsync(topic, "s", PastSocketBuffersCount, consumer: "other");
        Assert.Equal(PastSocketBuffersCount, drained.Select(m => m.Value()[..3]).Distinct().Count());
        Assert.Contains(drained, m => m.GetProperty("deliveryAttempt").GetInt32() > 1);
    }

    public Task DisposeAsync()
    {
        fixture.Server.WriteOutputTo(output, 30);
        return Task.CompletedTask;
    }
}
