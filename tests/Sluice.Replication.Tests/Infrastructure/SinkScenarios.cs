using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>
/// The scenarios every sink must pass, written once against <see cref="ISinkTarget"/>. A sink suite calls each from a
/// one-line test; scenarios that stop the target or kill the gateway get a fixture of their own so the others run beside
/// them. Sizes are the issue's: 10,000 records, a 20 s outage.
/// </summary>
public static class SinkScenarios
{
    public const int Records = 10_000;
    public static readonly TimeSpan Outage = TimeSpan.FromSeconds(20);

    /// <summary>10,000 keyed records with headers arrive complete, each partition in order, contents as published.</summary>
    public static async Task CompleteAndInOrderAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var topic = Gateway.NewTopic("order");
        await g.CreateTopicAsync(topic, 4);
        await t.PrepareAsync(topic);
        var records = TestRecord.Make(Records);
        await g.ProduceAsync(topic, records);
        var name = NewName();
        await g.Client.CreateReplicatorAsync(Body(name, topic, t, batch: new JsonObject { ["maxRecords"] = 500 }));
        try
        {
            var got = await t.WaitForRecordsAsync(topic, Records);
            AssertContents(records, got, t.Deduplicates);
            AssertInOrderPerPartition(got);
            var status = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("lag").GetInt64() == 0 && s.GetProperty("recordsWritten").GetInt64() >= Records);
            Assert.Equal("running", status.GetProperty("state").GetString());
            Assert.Equal(4, status.GetProperty("topics")[0].GetProperty("partitions").GetArrayLength());
        }
        catch
        {
            g.WriteOutputTo(output);
            throw;
        }
    }

    /// <summary>The gateway killed with SIGKILL mid-stream and restarted: nothing lost; a deduplicating target holds each record once.</summary>
    public static async Task KilledMidStreamLosesNothingAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var topic = Gateway.NewTopic("crash");
        await g.CreateTopicAsync(topic, 4);
        await t.PrepareAsync(topic);
        var records = TestRecord.Make(Records);
        var half = Records / 2;
        await g.ProduceAsync(topic, records[..half]);
        var name = NewName();

        // Small batches, so the kill lands while records are still on their way.
        await g.Client.CreateReplicatorAsync(Body(name, topic, t, batch: new JsonObject { ["maxRecords"] = 20 }));
        try
        {
            var before = await t.WaitForRecordsAsync(topic, 500);
            await g.KillAsync();
            var atKill = (await t.ReadAsync(topic)).Select(r => (r.Partition, r.Offset)).Distinct().Count();
            output.WriteLine($"killed with {atKill} of {half} records written");
            await g.RestartAsync();
            await g.ProduceAsync(topic, records[half..]);
            var got = await t.WaitForRecordsAsync(topic, Records);
            AssertContents(records, got, t.Deduplicates);
            _ = before;
        }
        catch
        {
            g.WriteOutputTo(output);
            throw;
        }
    }

    /// <summary>The target down for 20 s: status says retrying with the error and the next attempt; then it catches up.</summary>
    public static async Task TargetDownThenCatchesUpAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var topic = Gateway.NewTopic("outage");
        await g.CreateTopicAsync(topic, 2);
        await t.PrepareAsync(topic);
        var records = TestRecord.Make(200);
        await g.ProduceAsync(topic, records[..100]);
        var name = NewName();
        await g.Client.CreateReplicatorAsync(Body(name, topic, t, retry: new JsonObject { ["initialIntervalMs"] = 200, ["maxIntervalMs"] = 2000 }));
        try
        {
            await t.WaitForRecordsAsync(topic, 100);
            await t.StopAsync();
            var down = DateTime.UtcNow;
            await g.ProduceAsync(topic, records[100..]);
            var retrying = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "retrying");
            Assert.False(string.IsNullOrEmpty(retrying.GetProperty("lastError").GetString()), retrying.ToString());
            Assert.Equal(JsonValueKind.String, retrying.GetProperty("nextAttemptAt").ValueKind);
            Assert.Contains(retrying.GetProperty("topics")[0].GetProperty("partitions").EnumerateArray(), p => p.GetProperty("retrying").GetBoolean());
            Assert.True(retrying.GetProperty("lag").GetInt64() > 0, retrying.ToString());
            AssertNoSecrets(t, retrying.ToString());

            var rest = Outage - (DateTime.UtcNow - down);
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest);
            }

            // Still retrying after the whole outage: never "running" while nothing moves.
            Assert.Equal("retrying", (await g.Client.StatusAsync(name)).GetProperty("state").GetString());
            await t.StartAsync();
            var got = await t.WaitForRecordsAsync(topic, 200);
            AssertContents(records, got, t.Deduplicates);
            var caughtUp = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "running" && s.GetProperty("lag").GetInt64() == 0);
            Assert.True(caughtUp.GetProperty("retries").GetInt64() > 0, caughtUp.ToString());
        }
        catch
        {
            g.WriteOutputTo(output);
            throw;
        }
    }

    /// <summary>A record the target refuses goes to the dead-letter topic with the reason; every other record arrives.</summary>
    public static async Task RefusedRecordIsDeadLetteredAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var topic = Gateway.NewTopic("refuse");
        await g.CreateTopicAsync(topic, 2);
        var poison = t.Poison;
        await t.PrepareAsync(topic, poison);
        var records = TestRecord.Make(300);
        records[150] = records[150] with { Value = poison };
        await g.ProduceAsync(topic, records);
        var name = NewName();
        await g.Client.CreateReplicatorAsync(Body(name, topic, t, batch: new JsonObject { ["maxRecords"] = 50 }));
        try
        {
            var got = await t.WaitForRecordsAsync(topic, 299);
            Assert.DoesNotContain(got, r => r.Value == poison);
            AssertContents([.. records.Where(r => r.Value != poison)], got, t.Deduplicates);

            var dead = await WaitForDeadLetterAsync(g, topic + "-dlq");
            Assert.Equal(poison, dead.GetProperty("value").GetString());
            Assert.Equal("k0", dead.GetProperty("key").GetString());
            var headers = dead.GetProperty("headers");
            output.WriteLine("dead-letter reason: " + headers.GetProperty("sluice-dlq-reason").GetString());
            Assert.StartsWith("refused: ", headers.GetProperty("sluice-dlq-reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(topic, headers.GetProperty("sluice-dlq-source-topic").GetString());
            Assert.Equal("150", headers.GetProperty("n").GetString());
            var status = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("deadLettered").GetInt64() == 1 && s.GetProperty("lag").GetInt64() == 0);
            Assert.Equal("running", status.GetProperty("state").GetString());
        }
        catch
        {
            g.WriteOutputTo(output);
            throw;
        }
    }

    /// <summary>No secret value in any answer (create, get, list, status, a refused request) or log line.</summary>
    public static async Task SecretsNeverShownAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var topic = Gateway.NewTopic("secret");
        await g.CreateTopicAsync(topic, 1);
        await t.PrepareAsync(topic);
        var name = NewName();
        var created = await g.Client.CreateReplicatorAsync(Body(name, topic, t));
        await g.ProduceAsync(topic, TestRecord.Make(5));
        await t.WaitForRecordsAsync(topic, 5);

        var answers = new List<string> { created.ToString() };
        answers.Add((await g.Client.SendAsync(HttpMethod.Get, $"/v1/replicators/{name}")).Text);
        answers.Add((await g.Client.SendAsync(HttpMethod.Get, "/v1/replicators")).Text);
        answers.Add((await g.Client.StatusAsync(name)).ToString());
        foreach (var secretName in t.Secrets.Keys)
        {
            Assert.Contains(secretName, created.GetProperty("secrets").EnumerateArray().Select(s => s.GetString()));
        }

        // A refused change that quotes settings made from secrets: the 400 names the field, never the value.
        var bad = Body(name, topic, t);
        ((JsonObject)bad["sink"]!)["unknownSetting"] = "${secret:" + t.Secrets.Keys.First() + "}";
        var refused = await g.Client.SendAsync(HttpMethod.Put, $"/v1/replicators/{name}", bad.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains("sink.unknownSetting", refused.Text, StringComparison.Ordinal);
        answers.Add(refused.Text);

        // The target down: the error in the status and the log come from the sink's client library.
        await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/restart", HttpStatusCode.OK);
        foreach (var answer in answers)
        {
            AssertNoSecrets(t, answer);
        }

        AssertNoSecrets(t, g.Output);
        output.WriteLine($"checked {answers.Count} answers and {g.Output.Length} characters of server output");
    }

    /// <summary>A namespace source picks up a topic created after the replicator, within seconds.</summary>
    public static async Task NamespaceSourcePicksUpNewTopicAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var ns = "ns" + Guid.NewGuid().ToString("N")[..10];
        var first = $"repl/{ns}/first";
        await g.CreateTopicAsync(first, 2);
        await t.PrepareAsync(first);
        await g.ProduceAsync(first, TestRecord.Make(20));
        var name = NewName();
        await g.Client.CreateReplicatorAsync(Body(name, $"repl/{ns}/*", t));
        try
        {
            await t.WaitForRecordsAsync(first, 20);
            var later = $"repl/{ns}/later";
            await t.PrepareAsync(later);
            await g.CreateTopicAsync(later, 2);
            var records = TestRecord.Make(30, "late");
            await g.ProduceAsync(later, records);
            var got = await t.WaitForRecordsAsync(later, 30, timeoutSeconds: 30);
            AssertContents(records, got, t.Deduplicates);
            var status = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("topics").GetArrayLength() == 2 && s.GetProperty("lag").GetInt64() == 0);
            Assert.Equal([first, later], status.GetProperty("topics").EnumerateArray().Select(x => x.GetProperty("topic").GetString()).Order(StringComparer.Ordinal));
        }
        catch
        {
            g.WriteOutputTo(output);
            throw;
        }
    }

    /// <summary>Stop keeps the position (nothing written while stopped), seek only while stopped, start goes on from there.</summary>
    public static async Task StopSeekStartAsync(SinkFixture f, ITestOutputHelper output)
    {
        var (g, t) = (f.Gateway, f.Target);
        var topic = Gateway.NewTopic("seek");
        await g.CreateTopicAsync(topic, 2);
        await t.PrepareAsync(topic);
        var name = NewName();
        await g.Client.CreateReplicatorAsync(Body(name, topic, t));
        try
        {
            await g.ProduceAsync(topic, TestRecord.Make(10, "a"));
            await t.WaitForRecordsAsync(topic, 10);

            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/seek", HttpStatusCode.Conflict, """{"position":"earliest"}""");
            var stopped = await g.Client.SendAsync(HttpMethod.Post, $"/v1/replicators/{name}/stop");
            Assert.True(stopped.Body.GetProperty("stopped").GetBoolean(), stopped.Text);
            await g.ProduceAsync(topic, TestRecord.Make(5, "b"));
            var idle = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("lag").GetInt64() == 5);
            Assert.Equal("stopped", idle.GetProperty("state").GetString());
            await Task.Delay(1000);
            Assert.Equal(10, Distinct(await t.ReadAsync(topic)));

            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/seek", HttpStatusCode.NoContent, """{"position":"latest"}""");
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/start", HttpStatusCode.OK);
            await g.ProduceAsync(topic, TestRecord.Make(3, "c"));
            var got = await t.WaitForRecordsAsync(topic, 13);
            Assert.DoesNotContain(got, r => r.Value!.StartsWith('b'));

            // Back to the start: the skipped records arrive now.
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/stop", HttpStatusCode.OK);
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/seek", HttpStatusCode.NoContent, """{"position":"earliest"}""");
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/start", HttpStatusCode.OK);
            got = await t.WaitForRecordsAsync(topic, 18);
            Assert.Equal(5, got.Where(r => r.Value!.StartsWith('b')).Select(r => r.Value).Distinct().Count());
        }
        catch
        {
            g.WriteOutputTo(output);
            throw;
        }
    }

    public static string NewName() => "r" + Guid.NewGuid().ToString("N")[..12];

    public static JsonObject Body(string name, string source, ISinkTarget target, JsonObject? batch = null, JsonObject? retry = null)
    {
        var secrets = new JsonObject();
        foreach (var (k, v) in target.Secrets)
        {
            secrets[k] = v;
        }

        var body = new JsonObject
        {
            ["name"] = name,
            ["source"] = new JsonObject { ["topic"] = source, ["position"] = "earliest" },
            ["sink"] = target.Sink(),
            ["secrets"] = secrets,
        };
        if (batch is not null)
        {
            body["batch"] = batch;
        }

        if (retry is not null)
        {
            body["retry"] = retry;
        }

        return body;
    }

    public static void AssertNoSecrets(ISinkTarget target, string text)
    {
        foreach (var (name, value) in target.Secrets)
        {
            Assert.False(text.Contains(value, StringComparison.Ordinal), $"secret '{name}' appears in: {text[..Math.Min(text.Length, 2000)]}");
        }
    }

    /// <summary>Every published record arrived (by header n), with its key, value and headers; once each if the target deduplicates.</summary>
    public static void AssertContents(IReadOnlyList<TestRecord> published, IReadOnlyList<TargetRecord> got, bool deduplicates)
    {
        var byValue = got.GroupBy(r => r.Value ?? "").ToDictionary(g => g.Key, g => g.ToList());
        foreach (var p in published)
        {
            Assert.True(byValue.TryGetValue(p.Value, out var copies), $"record {p.Value} did not arrive");
            var r = copies![0];
            Assert.Equal(p.Key, r.Key);
            foreach (var (k, v) in p.Headers)
            {
                Assert.True(r.Headers.TryGetValue(k, out var hv) && hv == v, $"record {p.Value}: header {k} should be {v}; got {string.Join(",", r.Headers)}");
            }
        }

        if (deduplicates)
        {
            Assert.Equal(got.Count, got.Select(r => (r.Topic, r.Partition, r.Offset)).Distinct().Count());
        }
    }

    /// <summary>Within each partition, first arrivals come in offset order.</summary>
    public static void AssertInOrderPerPartition(IReadOnlyList<TargetRecord> got)
    {
        foreach (var partition in got.GroupBy(r => r.Partition))
        {
            var seen = new HashSet<long>();
            long last = -1;
            foreach (var r in partition)
            {
                if (!seen.Add(r.Offset))
                {
                    continue;
                }

                Assert.True(r.Offset > last, $"partition {partition.Key}: offset {r.Offset} arrived after {last}");
                last = r.Offset;
            }
        }
    }

    private static int Distinct(IReadOnlyList<TargetRecord> records) => records.Select(r => (r.Partition, r.Offset)).Distinct().Count();

    private static async Task<JsonElement> WaitForDeadLetterAsync(Gateway g, string dlq)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var (status, body, _) = await g.Client.SendAsync(HttpMethod.Get, $"/v1/topics/{dlq}/messages?partition=0&offset=0");
            if (status == HttpStatusCode.OK && body.GetProperty("messages").GetArrayLength() > 0)
            {
                return body.GetProperty("messages")[0];
            }

            Assert.True(DateTime.UtcNow < deadline, $"nothing reached the dead-letter topic {dlq} within 60 s");
            await Task.Delay(200);
        }
    }
}
