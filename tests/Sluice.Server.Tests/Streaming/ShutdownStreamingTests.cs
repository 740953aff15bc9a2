using System.Net.WebSockets;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Streaming;

public sealed class ShutdownStreamingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_EndsEveryStreamCleanly_AndExitsZero()
    {
        // A long shutdown timeout: a stream that ignored shutdown would keep the process past StopAsync's own limit.
        await using var server = await ServerProcess.StartNewAsync(["--shutdown-timeout-ms", "120000", "--sse-keep-alive-ms", "60000"]);
        try
        {
            var topic = SluiceApi.NewTopic();
            await server.Client.ProduceAsync(topic, "m0", partition: 0);
            var baseAddress = server.Client.BaseAddress!;
            await using var sse = await SseClient.OpenAsync(baseAddress, $"/v1/topics/{topic}/subscriptions/s/events?position=earliest");
            await using var replay = await SseClient.OpenAsync(baseAddress, $"/v1/topics/{topic}/messages?partition=0");
            await using var ws = await WsClient.ConnectAsync(baseAddress, $"/v1/topics/{topic}/subscriptions/w/ws?position=earliest");
            await using var producer = await WsClient.ConnectAsync(baseAddress, $"/v1/topics/{topic}/ws/produce");
            Assert.Single(await sse.MessagesAsync(1, TimeSpan.FromSeconds(10)));
            Assert.Single(await replay.MessagesAsync(1, TimeSpan.FromSeconds(10)));
            Assert.Equal("m0", (await ws.ReceiveAsync(TimeSpan.FromSeconds(10)))!.Value.GetProperty("value").GetString());

            var stopped = DateTime.UtcNow;
            Assert.Equal(0, await server.StopAsync());
            Assert.True(DateTime.UtcNow - stopped < TimeSpan.FromSeconds(15), "streams ended promptly");

            // Each stream saw a proper end: SSE bodies completed, WebSockets got a close frame (1001 going away).
            await DrainToEndAsync(sse);
            await DrainToEndAsync(replay);
            Assert.Null(await ws.ReceiveAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, ws.Socket.CloseStatus);
            Assert.Null(await producer.ReceiveAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, producer.Socket.CloseStatus);
            Assert.Contains("Shutdown complete", server.Output);
            Assert.DoesNotContain("fail:", server.Output);
        }
        finally
        {
            server.WriteOutputTo(output, 40);
        }
    }

    private static async Task DrainToEndAsync(SseClient sse)
    {
        while (await sse.NextAsync(TimeSpan.FromSeconds(5)) is not null)
        {
        }
    }
}
