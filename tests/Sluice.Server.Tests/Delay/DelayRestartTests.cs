using System.Net;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Delay;

/// <summary>Pending and cancelled delayed messages survive SIGKILL and SIGTERM; a grown topic's new partitions get theirs.</summary>
// Restarts on the same data (the Kafka mock cluster dies with its gateway), and partition growth (the mock cannot add partitions).
[Trait("Backend", "EmbeddedOnly")]
public sealed class DelayRestartTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Restart_WithPendingMessages_EachArrivesOnceWhenDue_TheFiredOnesNotAgain_TheCancelledNever(bool kill)
    {
        await using var server = await ServerProcess.StartNewAsync();
        try
        {
            var client = server.Client;
            var topic = SluiceApi.NewTopic("delay-restart");
            await client.PutSubscriptionAsync(topic, "s", new { position = "earliest", ackDeadlineMs = 120_000 });

            // Fired before the stop: due at once-ish, delivered, then left alone long enough for the progress to be written.
            var early = new List<string>();
            for (var i = 0; i < 4; i++)
            {
                early.Add((await client.ProduceAfterAsync(topic, $"early{i}", 200, partition: i % 2)).Id());
            }

            Assert.Equal(4, (await client.ReceiveAsync(topic, "s", 4, TimeSpan.FromSeconds(60))).Count);
            await Task.Delay(1500);

            // Pending across the stop, one cancelled.
            var pending = new Dictionary<string, DateTimeOffset>();
            for (var i = 0; i < 12; i++)
            {
                var answer = await client.ProduceAfterAsync(topic, $"late{i}", 4000 + (i * 300), partition: i % 2);
                pending[$"late{i}"] = answer.DeliverAt();
            }

            var cancelled = await client.ProduceAfterAsync(topic, "cancelled", 9000, partition: 0);
            Assert.Equal(HttpStatusCode.NoContent, (await client.CancelAsync(topic, cancelled.Id())).Status);

            if (kill)
            {
                await server.KillAsync();
            }
            else
            {
                Assert.Equal(0, await server.StopAsync());
            }

            await server.StartAsync();
            client = server.Client;

            var received = await client.ReceiveAsync(topic, "s", 12, TimeSpan.FromSeconds(90));
            Assert.Equal(pending.Keys.Order(StringComparer.Ordinal), received.Select(r => r.Message.Value()).Order(StringComparer.Ordinal));
            foreach (var (message, receivedAt) in received)
            {
                Assert.True(receivedAt >= pending[message.Value()], $"{message.Value()} arrived before its time");
            }

            // Nothing more, past the cancelled one's time: not it, and not the early ones again.
            var untilCancelled = cancelled.DeliverAt() - DateTimeOffset.UtcNow;
            await Task.Delay(untilCancelled > TimeSpan.Zero ? untilCancelled : TimeSpan.Zero);
            Assert.Empty(await client.PullAsync(topic, "s", "delay-test", waitMs: 2000));
            Assert.Equal(HttpStatusCode.Conflict, (await client.CancelAsync(topic, cancelled.Id())).Status);
            Assert.Equal(0, (await client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
        }
        finally
        {
            server.WriteOutputTo(output, 80);
        }
    }

    [Fact]
    public async Task TopicGrown_DelayedMessagesToItsNewPartitions_ArriveThere()
    {
        await using var server = await ServerProcess.StartNewAsync();
        try
        {
            var client = server.Client;
            var topic = SluiceApi.NewTopic("delay-grow");
            using (var put = await client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 2 })))
            {
                Assert.True(put.IsSuccessStatusCode);
            }

            await client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
            await client.ProduceAfterAsync(topic, "before", 500, partition: 1);
            using (var grow = await client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 4 })))
            {
                Assert.True(grow.IsSuccessStatusCode);
            }

            var answer = await client.ProduceAfterAsync(topic, "after", 500, partition: 3);
            Assert.Equal(3, answer.GetProperty("partition").GetInt32());

            var received = await client.ReceiveAsync(topic, "s", 2, TimeSpan.FromSeconds(60));
            Assert.Equal(3, received.Single(r => r.Message.Value() == "after").Message.GetProperty("partition").GetInt32());
            Assert.Equal([0, 1, 2, 3], (await client.ListDelayedAsync(topic)).GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()));
        }
        finally
        {
            server.WriteOutputTo(output, 80);
        }
    }
}
