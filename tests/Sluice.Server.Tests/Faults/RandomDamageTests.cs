using System.Globalization;
using System.Net;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Storage.Tests;
using static Sluice.Server.Tests.Faults.FaultLog;
using static Sluice.Storage.Tests.FileDamage;

namespace Sluice.Server.Tests.Faults;

/// <summary>
/// Rounds of: produce to two partitions, consume part of it, SIGKILL the server, flip bytes and cut files at random
/// (seeded) positions of segments and indexes, start it again. Every round checks: every acknowledged record that is
/// intact on disk is served, none is served altered, the lost ones are reported, no offset is handed out twice, and
/// the subscription goes on delivering. <c>SLUICE_FAULT_SEED</c> repeats a run; the seed is in the test output.
/// </summary>
[Trait("Backend", "EmbeddedOnly")]
public sealed class RandomDamageTests(ITestOutputHelper output)
{
    private const int Partitions = 2;
    private const int Rounds = 3;
    private const int PerRound = 250;

    [Fact]
    public async Task RandomFlipsAndCutsWhileKilled_IntactRecordsServedUnaltered_LossReported_NoOffsetReused_SubscriptionKeepsDelivering()
    {
        var seed = Environment.GetEnvironmentVariable("SLUICE_FAULT_SEED") is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        output.WriteLine($"seed {seed} (SLUICE_FAULT_SEED={seed} repeats this run)");
        var random = new Random(seed);

        await using var server = new ServerProcess(["--segment-bytes", "1048576"]);
        try
        {
            await server.StartAsync();
            var topic = SluiceApi.NewTopic("random-damage");
            using (var put = await server.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = Partitions })))
            {
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            }

            await server.Client.PutSubscriptionAsync(topic, "s", new { position = "earliest", ackDeadlineMs = 600_000 });

            // What each partition must still serve (acknowledged, not damaged), the highest offset ever handed out, and
            // what the subscription has acked.
            var expected = Enumerable.Range(0, Partitions).Select(_ => new Dictionary<long, string>()).ToArray();
            var highest = Enumerable.Repeat(-1L, Partitions).ToArray();
            var acked = new HashSet<(int, long)>();
            var damagedFiles = new HashSet<string>(StringComparer.Ordinal);
            for (var round = 0; round < Rounds; round++)
            {
                var client = server.Client;
                for (var p = 0; p < Partitions; p++)
                {
                    var produced = await ProduceAsync(client, topic, p, round * PerRound, PerRound, random.Next(2000, 9000));
                    Assert.True(produced.Keys.Min() > highest[p], $"round {round}: partition {p} handed out offset {produced.Keys.Min()} again (highest before: {highest[p]})");
                    highest[p] = produced.Keys.Max();
                    foreach (var (offset, value) in produced)
                    {
                        expected[p][offset] = value;
                    }
                }

                // The subscription takes and acks about half of what it has not acked yet; the rest waits for after the damage.
                var taken = await TakeAsync(client, topic, PerRound);
                foreach (var m in taken)
                {
                    var key = (m.GetProperty("partition").GetInt32(), m.GetProperty("offset").GetInt64());
                    Assert.Equal(expected[key.Item1][key.Item2], m.Value());
                    acked.Add(key);
                }

                await server.KillAsync();
                var lost = Damage(server.DataDir, topic, random, damagedFiles, out var silent);
                await server.StartAsync();
                client = server.Client;

                for (var p = 0; p < Partitions; p++)
                {
                    var (served, skipped) = await ReplayAllAsync(client, topic, p);
                    foreach (var (offset, value) in served)
                    {
                        Assert.True(expected[p].TryGetValue(offset, out var want) && want == value, $"round {round}: partition {p} served offset {offset} altered or unknown");
                    }

                    foreach (var offset in expected[p].Keys.Where(o => !lost.Contains((p, o))))
                    {
                        Assert.True(served.ContainsKey(offset), $"round {round}: partition {p} did not serve intact record {offset}");
                    }

                    foreach (var offset in expected[p].Keys.Where(o => lost.Contains((p, o)) && !silent.Contains((p, o))))
                    {
                        Assert.True(skipped.Any(s => s.From <= offset && offset < s.To), $"round {round}: partition {p} lost record {offset} without saying so");
                    }

                    foreach (var offset in expected[p].Keys.Where(o => lost.Contains((p, o))).ToList())
                    {
                        expected[p].Remove(offset);
                    }
                }

                // The subscription delivers every intact record it had not acked, unaltered, and none it had.
                var remaining = expected.SelectMany((e, p) => e.Keys.Select(o => (p, o))).Where(k => !acked.Contains(k)).ToHashSet();
                var after = await client.DrainAsync(topic, "s", remaining.Count, consumer: "after");
                var got = after.Select(m => (m.GetProperty("partition").GetInt32(), m.GetProperty("offset").GetInt64())).ToList();
                Assert.All(after, m => Assert.Equal(expected[m.GetProperty("partition").GetInt32()][m.GetProperty("offset").GetInt64()], m.Value()));
                Assert.Equal(remaining.Order(), got.Order());
                acked.UnionWith(got);
                output.WriteLine($"round {round}: {lost.Count} records damaged, {got.Count} delivered after the restart");
            }

            // And new records still flow to it.
            var last = await server.Client.ProduceAsync(topic, "the end", partition: 0);
            Assert.True(last.GetProperty("offset").GetInt64() > highest[0]);
            Assert.Equal(["the end"], (await server.Client.DrainAsync(topic, "s", 1)).Select(m => m.Value()));
        }
        finally
        {
            server.WriteOutputTo(output, 150);
        }
    }

    // Pulls and acks until `count` messages were taken (or nothing more comes).
    private static async Task<List<System.Text.Json.JsonElement>> TakeAsync(HttpClient client, string topic, int count)
    {
        var taken = new List<System.Text.Json.JsonElement>();
        while (taken.Count < count)
        {
            var batch = await client.PullAsync(topic, "s", "before", max: Math.Min(1000, count - taken.Count), waitMs: 2000);
            if (batch.Count == 0)
            {
                break;
            }

            await client.AckAsync(topic, "s", batch.Select(m => m.AckId()));
            taken.AddRange(batch);
        }

        return taken;
    }

    // One to three random faults in the topic's files: bytes flipped or a file cut, in a segment or an index. Returns the
    // records (partition, offset) whose bytes were hit, and among them those no reader can know are lost: a closed
    // segment cut exactly between two batches (nothing in its files says it was longer).
    private HashSet<(int, long)> Damage(string dataDir, string topic, Random random, HashSet<string> damagedFiles, out HashSet<(int, long)> silent)
    {
        var lost = new HashSet<(int, long)>();
        silent = [];
        var files = new List<(int Partition, string File, bool Active)>();
        var batches = new Dictionary<string, List<BatchSpan>>(StringComparer.Ordinal);
        for (var p = 0; p < Partitions; p++)
        {
            var segments = Segments(dataDir, topic, p);
            for (var i = 0; i < segments.Count; i++)
            {
                if (damagedFiles.Contains(segments[i]) || new FileInfo(segments[i]).Length == 0)
                {
                    continue; // its batches cannot be mapped again: damage elsewhere
                }

                batches[segments[i]] = BatchSpan.Read(segments[i]);
                files.Add((p, segments[i], i == segments.Count - 1));
                foreach (var index in new[] { Path.ChangeExtension(segments[i], ".index"), Path.ChangeExtension(segments[i], ".timeindex") })
                {
                    if (File.Exists(index) && new FileInfo(index).Length > 0)
                    {
                        files.Add((p, index, i == segments.Count - 1));
                    }
                }
            }
        }

        for (var k = 1 + random.Next(3); k > 0 && files.Count > 0; k--)
        {
            var (partition, file, active) = files[random.Next(files.Count)];
            var length = new FileInfo(file).Length;
            var cut = random.Next(4) == 0;
            var at = random.NextInt64(length);
            if (cut)
            {
                Cut(file, at);
            }
            else
            {
                Flip(file, at, (byte)(1 + random.Next(255)));
            }

            output.WriteLine($"{(cut ? "cut" : "flipped")} {Path.GetFileName(file)} of partition {partition} at byte {at} of {length}");
            if (!file.EndsWith(".log", StringComparison.Ordinal))
            {
                continue; // an index is only a lookup aid: no record is lost
            }

            damagedFiles.Add(file);
            files.RemoveAll(f => f.File == file || Path.ChangeExtension(f.File, ".log") == file);
            foreach (var b in batches[file].Where(b => cut ? b.End > at : b.Position <= at && at < b.End))
            {
                for (var o = b.FirstOffset; o <= b.LastOffset; o++)
                {
                    lost.Add((partition, o));
                    if (cut && !active && batches[file].Any(x => x.Position == at))
                    {
                        silent.Add((partition, o));
                    }
                }
            }
        }

        return lost;
    }
}
