using System.Globalization;
using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Storage.Tests;
using static Sluice.Storage.Tests.FileDamage;

namespace Sluice.Server.Tests.Delay;

/// <summary>
/// A holding partition damaged on disk (a byte flipped while the server was killed): its scheduler skips what the log
/// cannot serve, says so, and keeps everything else pending, cancellable and firing.
/// </summary>
// The embedded log's own files.
[Trait("Backend", "EmbeddedOnly")]
public sealed class DelayDamageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DamagedHeldRecords_AreSkipped_TheRestStaysListedAndCancellable_AndNewOnesStillFire()
    {
        await using var server = new ServerProcess(["--segment-bytes", "1048576"]);
        try
        {
            await server.StartAsync();
            var client = server.Client;
            var topic = SluiceApi.NewTopic("delay-damage");
            using (var put = await client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 })))
            {
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            }

            await client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });

            // About 3 MiB held in one partition (four 1 MiB segments), due in an hour; ids by holding offset.
            var ids = new Dictionary<long, string>();
            for (var i = 0; i < 400; i += 10)
            {
                var records = Enumerable.Range(i, 10).Select(s => new { value = Faults.FaultLog.Value(0, s, 8000), partition = 0, deliverAfterMs = 3_600_000 }).ToArray();
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/batch") { Content = SluiceApi.Json(new { messages = records }) };
                foreach (var result in (await SluiceApi.SendOkAsync(client, request)).GetProperty("results").EnumerateArray())
                {
                    var id = result.Id();
                    ids[long.Parse(id.Split(':')[2], CultureInfo.InvariantCulture)] = id;
                }
            }

            await server.KillAsync();
            var holding = Assert.Single(Directory.GetDirectories(Path.Combine(server.DataDir, "topics", "__sluice", "delayed"), "*" + topic.Split('/')[2] + "*"));
            var segments = Directory.GetFiles(Path.Combine(holding, "0"), "*.log").Order(StringComparer.Ordinal).ToList();
            Assert.True(segments.Count >= 3, $"{segments.Count} segments");
            var batches = BatchSpan.Read(segments[1]);
            var victim = batches[batches.Count / 2];
            Assert.Equal(10, victim.LastOffset - victim.FirstOffset + 1);
            Flip(segments[1], victim.Position + (victim.Size / 2), 0x20);
            await server.StartAsync();
            client = server.Client; // a new one for the new process

            // Everything else is still pending (the listing answers: the rebuild got past the damage); the damaged ones are not.
            var intact = ids.Where(e => e.Key < victim.FirstOffset || e.Key > victim.LastOffset).Select(e => e.Value).ToHashSet();
            var listed = await client.ListDelayedAsync(topic, limit: 1000);
            Assert.Equal(intact.Count, listed.GetProperty("count").GetInt64());
            Assert.Equal(intact.Order(StringComparer.Ordinal), listed.GetProperty("messages").EnumerateArray().Select(m => m.Id()).Order(StringComparer.Ordinal));
            Assert.Contains("are damaged on disk", server.Output, StringComparison.Ordinal);

            var (damaged, body) = await client.CancelAsync(topic, ids[victim.FirstOffset + 1]);
            Assert.Equal(HttpStatusCode.Conflict, damaged);
            Assert.Equal("urn:sluice:problem:not-cancellable", body.GetProperty("type").GetString());
            Assert.Equal(HttpStatusCode.NoContent, (await client.CancelAsync(topic, ids[victim.LastOffset + 1])).Status);

            // The partition still fires: new messages due soon arrive, and nothing else does.
            await client.ProduceAfterAsync(topic, "after the damage", 1000, partition: 0);
            var received = await client.ReceiveAsync(topic, "s", 1, TimeSpan.FromSeconds(90));
            Assert.Equal(["after the damage"], received.Select(r => r.Message.Value()));
            Assert.Equal(intact.Count - 1, (await client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
        }
        finally
        {
            server.WriteOutputTo(output, 60);
        }
    }
}
