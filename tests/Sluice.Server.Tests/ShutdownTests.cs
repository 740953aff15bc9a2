using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

public sealed class ShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_EndsLongPolls_AndExitsZero()
    {
        // A long shutdown timeout: if shutdown did not end the long-poll, the process would outlive StopAsync's own limit.
        await using var server = await ServerProcess.StartNewAsync(["--shutdown-timeout-ms", "120000"]);
        try
        {
            var client = server.Client;
            var topic = SluiceApi.NewTopic();
            await client.PutSubscriptionAsync(topic, "s", new { position = "latest" });
            var poll = client.GetAsync($"/v1/topics/{topic}/subscriptions/s/messages?waitMs=60000");

            // The poll is waiting once the engine counts its consumer; a poll that never attached would make the
            // rest of this test prove nothing, so that is a failure, not a fall-through.
            var attached = false;
            for (var i = 0; i < 400 && !attached; i++)
            {
                var info = await SluiceApi.ReadJsonAsync(await client.GetAsync($"/v1/topics/{topic}/subscriptions/s"));
                attached = info.GetProperty("consumers").GetArrayLength() > 0;
                if (!attached)
                {
                    await Task.Delay(50);
                }
            }

            Assert.True(attached, "the long-poll never attached as a consumer");

            Assert.Equal(0, await server.StopAsync());
            using var response = await poll;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await SluiceApi.ReadJsonAsync(response);
            Assert.Equal(0, body.GetProperty("messages").GetArrayLength());
            Assert.Contains("Shutdown complete", server.Output);
        }
        finally
        {
            server.WriteOutputTo(output, 40);
        }
    }
}
