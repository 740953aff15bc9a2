using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Pixy;

/// <summary>
/// Pixy's ack timeout and retries on Sluice's engine: an unacked message comes back after the ack timeout, before
/// newer messages, and after max_retries it goes to the dead-letter topic instead of Pixy's silent drop.
/// </summary>
public sealed class PixyRedeliveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ServerProcess _server = new(["--pixy-ack-timeout-ms", "1000", "--pixy-max-retries", "1", "--pixy-long-polling-timeout-ms", "1000"]);

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync()
    {
        _server.WriteOutputTo(output, lastLines: 40);
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> ConsumeAsync(string topic, string group)
    {
        using var response = await _server.Client.GetAsync($"/topics/{topic}/messages?group={group}&noAck");
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task ProduceAsync(string topic, string message)
    {
        using var response = await _server.Client.PostAsync($"/topics/{topic}/messages?sync&key=one", new StringContent(message, Encoding.UTF8, "text/plain") { Headers = { ContentType = new("text/plain") } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // Consumes until a message comes (the unacked one returns once its ack timeout passed).
    private async Task<string> NextAsync(string topic, string group)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            guard.Token.ThrowIfCancellationRequested();
            var (status, body) = await ConsumeAsync(topic, group);
            if (status == HttpStatusCode.OK)
            {
                return Encoding.UTF8.GetString(body.GetProperty("value").GetBytesFromBase64());
            }

            Assert.Equal(HttpStatusCode.RequestTimeout, status);
        }
    }

    private async Task UntilAsync(Func<Task<bool>> condition)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            await Task.Delay(100, guard.Token);
        }
    }

    [Fact]
    public async Task UnackedMessage_ComesBackBeforeNewerOnes_ThenGoesToTheDeadLetterTopicAfterMaxRetries()
    {
        var topic = PixyServer.NewTopic();
        const string Group = "workers";
        await ConsumeAsync(topic, Group);
        await ProduceAsync(topic, "a");
        Assert.Equal("a", await NextAsync(topic, Group));   // not acked (noAck)
        await ProduceAsync(topic, "b");

        // Once a's lease has expired, it is offered again before b.
        var subscription = $"/v1/topics/kafka/topics/{topic}/subscriptions/{Group}";
        await UntilAsync(async () => (await SluiceApi.ReadJsonAsync(await _server.Client.GetAsync(subscription))).GetProperty("inFlight").GetInt32() == 0);
        Assert.Equal("a", await NextAsync(topic, Group));   // the one retry: not acked either
        Assert.Equal("b", await NextAsync(topic, Group));

        // After max_retries (1) the next expiry dead-letters a (and b) instead of dropping them.
        var dlq = $"/v1/topics/kafka/topics/{topic}-dlq";
        await UntilAsync(async () =>
        {
            using var r = await _server.Client.GetAsync(dlq);
            return r.IsSuccessStatusCode && (await SluiceApi.ReadJsonAsync(r)).GetProperty("partitions")[0].GetProperty("endOffset").GetInt64() >= 1;
        });
        var dead = await SluiceApi.ReadJsonAsync(await _server.Client.GetAsync($"{dlq}/messages?partition=0&offset=0&max=10"));
        var first = dead.GetProperty("messages").EnumerateArray().First(m => m.GetProperty("value").GetString() == "a");
        Assert.Equal($"kafka/topics/{topic}", first.GetProperty("headers").GetProperty("sluice-dlq-source-topic").GetString());
        Assert.Equal(Group, first.GetProperty("headers").GetProperty("sluice-dlq-subscription").GetString());
    }
}
