using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Storage.Tests;
using static Sluice.Server.Tests.Faults.FaultLog;
using static Sluice.Storage.Tests.FileDamage;

namespace Sluice.Server.Tests.Faults;

/// <summary>
/// The embedded log's faults through the real server: a full file system (a real tmpfs), and bytes flipped or cut in
/// segment and index files while the server is killed. Nothing hangs, nothing stalls silently, nothing intact is lost.
/// </summary>
// These are the embedded log's own files and disk.
[Trait("Backend", "EmbeddedOnly")]
public sealed class StorageFaultTests(ITestOutputHelper output)
{
    private const string OneMiB = "1048576";

    [Fact]
    public async Task FullDisk_ProduceAnswers507NamingThePartition_DeleteCompletesAndFreesSpace_AndPartitionsRecoverWithoutRestart()
    {
        using var disk = new TmpfsMount(24 * 1024 * 1024);
        await using var server = new ServerProcess(["--segment-bytes", OneMiB], dataDir: Path.Combine(disk.Path, "data"));
        try
        {
            await server.StartAsync();
            var client = server.Client;
            var kept = SluiceApi.NewTopic("kept");
            var filler = SluiceApi.NewTopic("filler");
            foreach (var topic in new[] { kept, filler })
            {
                using var put = await client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 }));
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
                await client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
            }

            for (var i = 0; i < 5; i++)
            {
                await client.ProduceAsync(kept, "kept-" + i);
            }

            // Fill the disk through the API until it refuses.
            var big = new string('x', 256 * 1024);
            HttpResponseMessage? refused = null;
            for (var i = 0; i < 200 && refused is null; i++)
            {
                var response = await client.PostAsync($"/v1/topics/{filler}/messages", new StringContent(big));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    refused = response;
                }
                else
                {
                    response.Dispose();
                }
            }

            Assert.NotNull(refused);
            using (refused)
            {
                var problem = await SluiceApi.ReadJsonAsync(refused);
                Assert.Equal((HttpStatusCode)507, refused.StatusCode);
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                Assert.Equal("urn:sluice:problem:storage-full", problem.GetProperty("type").GetString());
                Assert.Contains($"partition 0 of topic '{filler}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }

            // Whatever room is left goes too: nothing needing new space fits now (320 KiB: more than the 256 KiB of zeros
            // the partition keeps written ahead of its data, which an append may still fill on a full disk).
            disk.Fill(leave: 0, "ballast");
            using (var full = await client.PostAsync($"/v1/topics/{kept}/messages", new StringContent(new string('y', 320 * 1024))))
            {
                Assert.Equal((HttpStatusCode)507, full.StatusCode);
            }

            var ready = await GetJsonAsync(client, "/readyz");
            Assert.Equal("ready", ready.GetProperty("status").GetString());
            Assert.Contains(ready.GetProperty("problems").EnumerateArray(), p => p.GetProperty("kind").GetString() == "storage-full" && p.GetProperty("topic").GetString() == kept);

            // A delete on the full disk completes: files gone, space freed.
            var freeBefore = disk.Free;
            using (var delete = await client.DeleteAsync($"/v1/topics/{filler}"))
            {
                Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
            }

            Assert.False(Directory.Exists(PartitionDirectory(server.DataDir, filler, 0)), "the deleted topic's files are gone");
            Assert.True(disk.Free > freeBefore + 4 * 1024 * 1024, $"free space grew from {freeBefore} to {disk.Free}");
            using (var gone = await client.GetAsync($"/v1/topics/{filler}"))
            {
                Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            }

            // The partition that was refused takes appends again, at the next offset, without a restart.
            var again = await client.ProduceAsync(kept, "kept-5");
            Assert.Equal(5, again.GetProperty("offset").GetInt64());
            ready = await GetJsonAsync(client, "/readyz");
            Assert.False(ready.TryGetProperty("problems", out var left) && left.EnumerateArray().Any(p => p.GetProperty("topic").GetString() == kept), ready.ToString());

            // After a restart: the deleted topic stays gone, every acknowledged message of the other is there.
            Assert.Equal(0, await server.StopAsync());
            await server.StartAsync();
            client = server.Client;
            using (var gone = await client.GetAsync($"/v1/topics/{filler}"))
            {
                Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            }

            var delivered = await client.DrainAsync(kept, "s", 6);
            Assert.Equal(Enumerable.Range(0, 6).Select(i => "kept-" + i), delivered.Select(m => m.Value()));
        }
        finally
        {
            server.WriteOutputTo(output, 120);
        }
    }

    [Fact]
    public async Task DamagedBatchInAClosedSegment_SubscriptionDeliversEverythingElse_AndStatusReplayAndReadyzNameTheLostOffsets()
    {
        await using var server = new ServerProcess(["--segment-bytes", OneMiB]);
        try
        {
            var (topic, acked, victim) = await DamagedLogAsync(server);
            var client = server.Client;

            // Every intact record is delivered, exactly as produced; the damaged ones never; the cursor gets past them.
            var delivered = await client.DrainAsync(topic, "s", acked.Count - 10);
            var offsets = delivered.Select(m => m.GetProperty("offset").GetInt64()).ToList();
            Assert.Equal(acked.Keys.Where(o => o < victim.FirstOffset || o > victim.LastOffset).Order(), offsets.Order());
            Assert.All(delivered, m => Assert.Equal(acked[m.GetProperty("offset").GetInt64()], m.Value()));

            var status = await GetJsonAsync(client, $"/v1/topics/{topic}/subscriptions/s");
            var partition = status.GetProperty("partitions")[0];
            var skipped = Assert.Single(partition.GetProperty("skipped").EnumerateArray());
            Assert.Equal((victim.FirstOffset, victim.LastOffset + 1), (skipped.GetProperty("fromOffset").GetInt64(), skipped.GetProperty("toOffset").GetInt64()));
            Assert.Contains("CRC-32C mismatch", skipped.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, partition.GetProperty("lag").GetInt64());

            var topicStatus = await GetJsonAsync(client, $"/v1/topics/{topic}");
            var range = Assert.Single(topicStatus.GetProperty("partitions")[0].GetProperty("corruptRanges").EnumerateArray());
            Assert.Equal((victim.FirstOffset, victim.LastOffset + 1), (range.GetProperty("fromOffset").GetInt64(), range.GetProperty("toOffset").GetInt64()));
            Assert.DoesNotContain(server.DataDir, topicStatus.ToString(), StringComparison.Ordinal);

            var ready = await GetJsonAsync(client, "/readyz");
            Assert.Contains(ready.GetProperty("problems").EnumerateArray(), p => p.GetProperty("kind").GetString() == "corrupt-records" && p.GetProperty("topic").GetString() == topic);

            // Replay at the damage answers 200 with what follows it, saying what it skipped.
            var replay = await GetJsonAsync(client, $"/v1/topics/{topic}/messages?offset={victim.FirstOffset + 1}&max=5");
            var replaySkipped = Assert.Single(replay.GetProperty("skipped").EnumerateArray());
            Assert.Equal((victim.FirstOffset + 1, victim.LastOffset + 1), (replaySkipped.GetProperty("fromOffset").GetInt64(), replaySkipped.GetProperty("toOffset").GetInt64()));
            Assert.Equal(victim.LastOffset + 1, replay.GetProperty("messages")[0].GetProperty("offset").GetInt64());
            var (served, skippedByReplay) = await ReplayAllAsync(client, topic, 0);
            Assert.Equal([(victim.FirstOffset, victim.LastOffset + 1)], skippedByReplay);
            Assert.Equal(acked.Where(a => a.Key < victim.FirstOffset || a.Key > victim.LastOffset).OrderBy(a => a.Key), served.OrderBy(a => a.Key));

            // New records are delivered after it.
            var next = await client.ProduceAsync(topic, "after the damage", partition: 0);
            Assert.Equal(acked.Keys.Max() + 1, next.GetProperty("offset").GetInt64());
            Assert.Equal(["after the damage"], (await client.DrainAsync(topic, "s", 1)).Select(m => m.Value()));
        }
        finally
        {
            server.WriteOutputTo(output, 120);
        }
    }

    [Fact]
    public async Task DamagedBatchInAClosedSegment_WithStopPolicy_SubscriptionStopsThereAndSaysWhere_UntilASeekPastIt()
    {
        await using var server = new ServerProcess(["--segment-bytes", OneMiB, "--on-corrupt-records", "stop"]);
        try
        {
            var (topic, acked, victim) = await DamagedLogAsync(server);
            var client = server.Client;

            var delivered = await client.DrainAsync(topic, "s", acked.Count);
            Assert.Equal(acked.Keys.Where(o => o < victim.FirstOffset).Order(), delivered.Select(m => m.GetProperty("offset").GetInt64()).Order());

            var partition = (await GetJsonAsync(client, $"/v1/topics/{topic}/subscriptions/s")).GetProperty("partitions")[0];
            var stopped = partition.GetProperty("stoppedAt");
            Assert.Equal((victim.FirstOffset, victim.LastOffset + 1), (stopped.GetProperty("fromOffset").GetInt64(), stopped.GetProperty("toOffset").GetInt64()));
            Assert.Equal(victim.FirstOffset, partition.GetProperty("committedOffset").GetInt64());
            Assert.True(partition.GetProperty("lag").GetInt64() > 0);

            using (var seek = await client.PostAsync($"/v1/topics/{topic}/subscriptions/s/seek", SluiceApi.Json(new { position = new { offset = victim.LastOffset + 1, partition = 0 } })))
            {
                Assert.Equal(HttpStatusCode.NoContent, seek.StatusCode);
            }

            var rest = await client.DrainAsync(topic, "s", acked.Count);
            Assert.Equal(acked.Keys.Where(o => o > victim.LastOffset).Order(), rest.Select(m => m.GetProperty("offset").GetInt64()).Order());
            partition = (await GetJsonAsync(client, $"/v1/topics/{topic}/subscriptions/s")).GetProperty("partitions")[0];
            Assert.False(partition.TryGetProperty("stoppedAt", out _));
            Assert.Equal(0, partition.GetProperty("lag").GetInt64());
        }
        finally
        {
            server.WriteOutputTo(output, 120);
        }
    }

    // A one-partition topic of about 3 MiB (four 1 MiB segments) with a subscription at its start; the server is killed,
    // a byte of a batch in the middle of the second segment is flipped, and the server started again.
    private static async Task<(string Topic, Dictionary<long, string> Acked, BatchSpan Victim)> DamagedLogAsync(ServerProcess server)
    {
        await server.StartAsync();
        var topic = SluiceApi.NewTopic("damaged");
        using (var put = await server.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 })))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await server.Client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var acked = await ProduceAsync(server.Client, topic, 0, 0, 400, 8000);
        await server.KillAsync();

        var segments = Segments(server.DataDir, topic, 0);
        Assert.True(segments.Count >= 3, $"{segments.Count} segments");
        var batches = BatchSpan.Read(segments[1]);
        var victim = batches[batches.Count / 2];
        Assert.Equal(10, victim.LastOffset - victim.FirstOffset + 1);
        Flip(segments[1], victim.Position + victim.Size / 2, 0x20);
        await server.StartAsync();
        return (topic, acked, victim);
    }
}
