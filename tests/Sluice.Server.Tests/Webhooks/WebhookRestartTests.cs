using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Webhooks;

/// <summary>Webhooks survive a gateway restart: delivery resumes where it stopped, nothing is lost.</summary>
// Restarts on the same data: the Kafka mock cluster lives in the gateway process and dies with it.
[Trait("Backend", "EmbeddedOnly")]
public sealed class WebhookRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillMidStream_ThenRestart_LosesNothing_AndResumes()
    {
        const int Count = 60;
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = new ServerProcess(WebhookServer.Args);
        await server.StartAsync();
        try
        {
            var topic = SluiceApi.NewTopic("wh-restart");
            receiver.Respond = async _ =>
            {
                await Task.Delay(10);
                return ReceiverAnswer.Ok;
            };
            var created = await server.Client.CreateWebhookAsync(new { topic, url = receiver.Url, concurrency = 4 });
            var id = created.GetProperty("id").GetString()!;
            for (var i = 0; i < Count; i++)
            {
                await server.Client.ProduceAsync(topic, "r" + i);
            }

            await receiver.WaitForAsync(c => c.Count >= Count / 3);
            await server.KillAsync();
            var beforeKill = receiver.Calls.Count;

            await server.StartAsync();
            var got = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/webhooks/{id}"));
            Assert.Equal(HttpStatusCode.OK, got.StatusCode);

            // Every message arrives; only those in flight at the kill may come twice (at-least-once).
            var calls = await receiver.WaitForAsync(c => c.Select(x => x.Text).Distinct().Count() == Count, timeoutSeconds: 40);
            Assert.Equal(Enumerable.Range(0, Count).Select(i => "r" + i).Order(StringComparer.Ordinal), calls.Select(c => c.Text).Distinct().Order(StringComparer.Ordinal));
            output.WriteLine($"{beforeKill} calls before the kill, {calls.Count} in all for {Count} messages");
            Assert.True(calls.Count - Count <= beforeKill, "no more duplicates than calls made before the kill");

            // Acked ones are not sent again: after everything arrived and settled, nothing more comes.
            await server.Client.WaitForStatsAsync(id, s => s.GetProperty("inFlight").GetInt32() == 0 && s.GetProperty("backlog").GetInt64() == 0);
            var settled = receiver.Calls.Count;
            await Task.Delay(1000);
            Assert.Equal(settled, receiver.Calls.Count);
        }
        finally
        {
            server.WriteOutputTo(output, 80);
        }
    }
}
