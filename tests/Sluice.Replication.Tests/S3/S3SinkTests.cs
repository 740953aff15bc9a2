using System.Net;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.S3;

/// <summary>The s3 sink against a real s3rver started by the test; each class has its own server and gateway.</summary>
public class S3Fixture : SinkFixture
{
    protected override async Task<ISinkTarget> StartTargetAsync() => new S3Target(await S3rverServer.StartNewAsync());
}

public sealed class S3KillableFixture : S3Fixture
{
    protected override bool Killable => true;
}

public sealed class S3SinkTests(S3Fixture f, ITestOutputHelper output) : SinkContractTests<S3Fixture>(f, output)
{
    private S3Target Target => (S3Target)Fixture.Target;

    [Fact]
    public async Task Objects_AreNamedByTopicPartitionAndFirstOffset_AsNdjsonWithMetadata()
    {
        var topic = Gateway.NewTopic("layout");
        await Fixture.Gateway.CreateTopicAsync(topic, 1);
        await Fixture.Gateway.ProduceAsync(topic, TestRecord.Make(25));
        var name = SinkScenarios.NewName();
        await Fixture.Gateway.Client.CreateReplicatorAsync(SinkScenarios.Body(name, topic, Target, batch: new JsonObject { ["maxRecords"] = 10, ["lingerMs"] = 5000 }));
        await Target.WaitForRecordsAsync(topic, 25);
        await Fixture.Gateway.Client.WaitForStatusAsync(name, s => s.GetProperty("lag").GetInt64() == 0);

        // Batches of 10 (the last one cut by the linger) from a partition holding 25 records: objects at 0, 10 and 20.
        var folder = S3Target.TopicFolder(topic) + "0000/";
        Assert.Equal([folder + "0000000000000000000.ndjson", folder + "0000000000000000010.ndjson", folder + "0000000000000000020.ndjson"], await Target.KeysAsync(S3Target.TopicFolder(topic)));
        using var client = S3Target.Client(Target.Server);
        var head = await client.GetObjectMetadataAsync(S3rverServer.Bucket, folder + "0000000000000000010.ndjson");
        Assert.Equal("application/x-ndjson", head.Headers.ContentType);
        Assert.Equal(topic, head.Metadata["x-amz-meta-sluice-topic"]);
        Assert.Equal("0", head.Metadata["x-amz-meta-sluice-partition"]);
        Assert.Equal("10", head.Metadata["x-amz-meta-sluice-first-offset"]);
        Assert.Equal("19", head.Metadata["x-amz-meta-sluice-last-offset"]);
        Assert.Equal("10", head.Metadata["x-amz-meta-sluice-records"]);
    }

    [Fact]
    public async Task SeekBackWithAnotherBatchSize_ReplacesTheEarlierObjects_EachRecordOnce()
    {
        var g = Fixture.Gateway;
        var topic = Gateway.NewTopic("stale");
        await g.CreateTopicAsync(topic, 2);
        var records = TestRecord.Make(200);
        await g.ProduceAsync(topic, records);
        var name = SinkScenarios.NewName();
        await g.Client.CreateReplicatorAsync(SinkScenarios.Body(name, topic, Target, batch: new JsonObject { ["maxRecords"] = 7, ["lingerMs"] = 5000 }));
        try
        {
            await Target.WaitForRecordsAsync(topic, 200);
            var first = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("lag").GetInt64() == 0);
            var writtenBefore = first.GetProperty("recordsWritten").GetInt64();
            var before = (await Target.KeysAsync(S3Target.TopicFolder(topic))).Count;

            // Written again from the start in batches cut elsewhere: without removing the first run's objects, most records
            // would be in two objects (0-6 and 0-9, 7-13 and 10-19, ...).
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/stop", HttpStatusCode.OK);
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/seek", HttpStatusCode.NoContent, """{"position":"earliest"}""");
            var changed = SinkScenarios.Body(name, topic, Target, batch: new JsonObject { ["maxRecords"] = 10, ["lingerMs"] = 5000 });
            changed.Remove("name");
            await g.Client.ExpectAsync(HttpMethod.Put, $"/v1/replicators/{name}", HttpStatusCode.OK, changed.ToJsonString());
            await g.Client.ExpectAsync(HttpMethod.Post, $"/v1/replicators/{name}/start", HttpStatusCode.OK);
            // recordsWritten counts since the gateway started, the first run's 200 included: the second run's are on top.
            await g.Client.WaitForStatusAsync(name, s => s.GetProperty("lag").GetInt64() == 0 && s.GetProperty("recordsWritten").GetInt64() >= writtenBefore + 200);

            var got = await Target.ReadAsync(topic);
            SinkScenarios.AssertContents(records, got, deduplicates: true);
            Assert.Equal(200, got.Count);
            var after = await Target.KeysAsync(S3Target.TopicFolder(topic));
            Assert.All(after, k => Assert.True(long.Parse(k[^26..^7], System.Globalization.CultureInfo.InvariantCulture) % 10 == 0, $"{k} is not a batch of the second run"));
            Output.WriteLine($"{before} objects of the first run replaced by {after.Count}");
        }
        catch
        {
            g.WriteOutputTo(Output);
            throw;
        }
    }

    [Fact]
    public async Task UnknownAccessKey_IsRetriedWithTheStoresError_NothingDeadLettered_ThenCatchesUpOnceFixed()
    {
        var g = Fixture.Gateway;
        var topic = Gateway.NewTopic("creds");
        await g.CreateTopicAsync(topic, 1);
        var records = TestRecord.Make(20);
        await g.ProduceAsync(topic, records);
        var name = SinkScenarios.NewName();
        var body = SinkScenarios.Body(name, topic, Target, retry: new JsonObject { ["initialIntervalMs"] = 200, ["maxIntervalMs"] = 1000 });
        // s3rver checks the access key, not SigV4 signatures: an unknown key is its refusal of bad credentials (403).
        body["secrets"]!["ak"] = "AKNOTAKEYOFTHISSTORE";
        await g.Client.CreateReplicatorAsync(body);
        try
        {
            var retrying = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "retrying" && s.GetProperty("retries").GetInt64() >= 2);
            Assert.Contains("403 InvalidAccessKeyId", retrying.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, retrying.GetProperty("deadLettered").GetInt64());
            Assert.Empty(await Target.ReadAsync(topic));

            var fixedBody = SinkScenarios.Body(name, topic, Target);
            fixedBody.Remove("name");
            await g.Client.ExpectAsync(HttpMethod.Put, $"/v1/replicators/{name}", HttpStatusCode.OK, fixedBody.ToJsonString());
            SinkScenarios.AssertContents(records, await Target.WaitForRecordsAsync(topic, 20), deduplicates: true);
            var status = await g.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "running" && s.GetProperty("lag").GetInt64() == 0);
            Assert.Equal(0, status.GetProperty("deadLettered").GetInt64());
        }
        catch
        {
            g.WriteOutputTo(Output);
            throw;
        }
    }
}

public sealed class S3OutageTests(S3Fixture f, ITestOutputHelper output) : IClassFixture<S3Fixture>
{
    [Fact]
    public Task TargetDownFor20s_ShowsRetryingWithTheError_ThenCatchesUp() => SinkScenarios.TargetDownThenCatchesUpAsync(f, output);
}

public sealed class S3CrashTests(S3KillableFixture f, ITestOutputHelper output) : IClassFixture<S3KillableFixture>
{
    [Fact]
    public Task GatewayKilledMidStream_RestartLosesNothingAndDuplicatesNothing() => SinkScenarios.KilledMidStreamLosesNothingAsync(f, output);
}
