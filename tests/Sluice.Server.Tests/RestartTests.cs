using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

/// <summary>Killing (SIGKILL) or stopping (SIGTERM) the server loses no produced message, no ack and no unacked message.</summary>
// Restarts on the same data: the Kafka mock cluster lives in the gateway process and dies with it.
[Trait("Backend", "EmbeddedOnly")]
public sealed class RestartTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Restart_KeepsMessagesAcksAndUnackedMessages(bool kill)
    {
        const int Count = 40;
        await using var server = await ServerProcess.StartNewAsync();
        try
        {
            var client = server.Client;
            var topic = SluiceApi.NewTopic("restart");
            // A long deadline: nothing may expire while the test pulls (leases do not survive the restart anyway).
            await client.PutSubscriptionAsync(topic, "s", new { position = "earliest", ackDeadlineMs = 120_000 });
            var ids = new List<string>();
            for (var i = 0; i < Count; i++)
            {
                ids.Add((await client.ProduceAsync(topic, "m" + i, key: "k" + (i % 7))).GetProperty("id").GetString()!);
            }

            // Take everything; ack the even ones, leave the odd ones in flight.
            var delivered = await client.DrainAsync(topic, "s", Count, ack: false);
            Assert.Equal(Count, delivered.Count);
            var acked = delivered.Where(m => int.Parse(m.Value()[1..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0).ToList();
            var ack = await client.AckAsync(topic, "s", acked.Select(m => m.AckId()));
            Assert.Equal(acked.Count, ack.GetProperty("acked").GetInt32());

            if (kill)
            {
                await server.KillAsync();
            }
            else
            {
                Assert.Equal(0, await server.StopAsync());
                Assert.Contains("Shutdown complete", server.Output);
            }

            await server.StartAsync();
            client = server.Client;

            // Every produced message is still there.
            Assert.Equal(Count, (await client.EndOffsetsAsync(topic)).Sum());

            // Exactly the unacked ones come back; no acked one does.
            var again = await client.DrainAsync(topic, "s", Count / 2);
            var expected = delivered.Except(acked).Select(m => m.Value()).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(expected, again.Select(m => m.Value()).Order(StringComparer.Ordinal).ToList());
            Assert.Empty(await client.PullAsync(topic, "s", "drain", waitMs: 1500));
        }
        finally
        {
            server.WriteOutputTo(output, 80);
        }
    }
}
