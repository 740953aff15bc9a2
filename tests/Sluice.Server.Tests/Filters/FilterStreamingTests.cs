using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Streaming;

namespace Sluice.Server.Tests.Filters;

/// <summary>Filtered subscriptions over Server-Sent Events and WebSocket: the same engine, so the same messages.</summary>
public sealed class FilterStreamingTests(StreamingServer fixture, ITestOutputHelper output) : StreamingTests(fixture, output)
{
    [Fact]
    public async Task Sse_FilterGivenInTheQuery_CreatesAFilteredSubscription_StreamsOnlyMatches()
    {
        const int Count = 100;
        var topic = await Fixture.NewTopicAsync(partitions: 2);
        await Client.ProduceRegionsAsync(topic, Count);
        var filter = Uri.EscapeDataString(FilterApi.Eu);

        await using var sse = await SseClient.OpenAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/events?ack=auto&position=earliest&filter={filter}");
        var events = await sse.MessagesAsync(Count / 5, Wait);

        Assert.Equal(FilterApi.EuValues(Count), events.Select(e => e.Json.GetProperty("value").GetString()!).Order(StringComparer.Ordinal));
        var info = await Client.WaitForSubscriptionAsync(topic, "s", s => s.Lag() == 0);
        Assert.Equal(FilterApi.Eu, info.GetProperty("filter").GetString());
        Assert.Equal(Count - (Count / 5), info.FilteredOut());

        // Later messages: only the matching one arrives.
        await Client.ProduceRegionsAsync(topic, 5, start: Count);
        var next = await sse.MessagesAsync(1, Wait);
        Assert.Equal($"m{Count}", next[0].Json.GetProperty("value").GetString());
        await Client.WaitForSubscriptionAsync(topic, "s", s => s.Lag() == 0 && s.FilteredOut() == Count - (Count / 5) + 4);
    }

    [Fact]
    public async Task WebSocket_FilteredSubscription_SendsOnlyMatches_AndAcksOnTheSocket()
    {
        const int Count = 60;
        var topic = await Fixture.NewTopicAsync();
        await Client.PutSubscriptionAsync(topic, "s", new { position = "earliest", filter = "header.region IN ('eu') AND hasPrefix(key, 'k')" });
        await Client.ProduceRegionsAsync(topic, Count);

        await using var ws = await WsClient.ConnectAsync(Fixture.BaseAddress, $"/v1/topics/{topic}/subscriptions/s/ws");
        var values = new List<string>();
        var ackIds = new List<string>();
        while (values.Count < Count / 5)
        {
            var frame = (await ws.ReceiveAsync(Wait))!.Value;
            if (frame.TryGetProperty("ackId", out var ackId))
            {
                ackIds.Add(ackId.GetString()!);
                values.Add(frame.GetProperty("value").GetString()!);
            }
        }

        await ws.SendJsonAsync(new { ack = ackIds });
        Assert.Equal(FilterApi.EuValues(Count), values.Order(StringComparer.Ordinal));
        var info = await Client.WaitForSubscriptionAsync(topic, "s", s => s.Lag() == 0 && s.GetProperty("inFlight").GetInt32() == 0);
        Assert.Equal(Count - (Count / 5), info.FilteredOut());

        // Nothing more is sent: every other message was filtered out.
        await Assert.ThrowsAsync<TimeoutException>(async () =>
        {
            while (true)
            {
                var frame = (await ws.ReceiveAsync(TimeSpan.FromMilliseconds(500)))!.Value;
                Assert.False(frame.TryGetProperty("ackId", out _), $"an unexpected message: {frame}");
            }
        });
    }
}
