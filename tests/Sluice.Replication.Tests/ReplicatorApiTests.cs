using System.Net;
using System.Text.Json.Nodes;
using Sluice.Replication.Tests.Http;
using Sluice.Replication.Tests.Infrastructure;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Replication.Tests;

/// <summary>The replicator routes themselves: validation before anything starts, write-only secrets, conflicts, delete.</summary>
public sealed class ReplicatorApiTests(HttpSinkFixture f, ITestOutputHelper output) : IClassFixture<HttpSinkFixture>
{
    public static TheoryData<string, string, string> BadBodies => new()
    {
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"carrier-pigeon","url":"http://127.0.0.1:9/x"}}""", "invalid-parameter", "sink.type" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"bogus":1}""", "malformed-json", "bogus" },
        { """{"name":"b1","source":{"topic":"a/b/c","positon":"earliest"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"}}""", "malformed-json", "source.positon" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"batch":{"maxRecords":0}}""", "invalid-parameter", "batch.maxRecords" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"batch":{"maxRecord":5}}""", "malformed-json", "batch.maxRecord" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"retry":{"initialIntervalMs":5000,"maxIntervalMs":10}}""", "invalid-parameter", "retry.maxIntervalMs" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x","format":"xml"}}""", "invalid-parameter", "sink.format" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http"}}""", "invalid-parameter", "sink.url" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/{colour}"}}""", "invalid-parameter", "sink.url" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x","colour":"red"}}""", "invalid-parameter", "sink.colour" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x","signingSecret":"${secret:missing}"}}""", "invalid-parameter", "sink.signingSecret" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x","signingSecret":"not-a-secret"}}""", "invalid-parameter", "sink.signingSecret" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"ftp://127.0.0.1/x"}}""", "invalid-parameter", "sink.url" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","targets":{"x/y/z":"http://127.0.0.1:9/"}}}""", "invalid-parameter", "sink.targets.x/y/z" },
        { """{"name":"b1","source":{"topic":"a/b"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"}}""", "invalid-parameter", "source.topic" },
        { """{"name":"b1","source":{"topic":"__sluice/system/x"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"}}""", "invalid-parameter", "source.topic" },
        { """{"name":"b1","source":{"topic":"a/b/c","position":"yesterday"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"}}""", "invalid-parameter", "source.position" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"ordering":"random"}""", "invalid-parameter", "ordering" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"deadLetterTopic":"__sluice/x/{topic}"}""", "invalid-parameter", "deadLetterTopic" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"},"secrets":{"s":17}}""", "invalid-parameter", "secrets.s" },
        { """{"name":"b/1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"}}""", "invalid-parameter", "name" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"postgresql","table":"t","connectionString":"Host=x;;==;Password"}}""", "invalid-parameter", "sink.connectionString" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"postgresql","table":"t\"x"}}""", "invalid-parameter", "sink.connectionString" },
        { """{"name":"b1","source":{"topic":"a/b/c"},"sink":{"type":"postgresql","connectionString":"Host=x","table":"bad\"name"}}""", "invalid-parameter", "sink.table" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadBody_IsRefusedWith400NamingTheField_AndNothingIsStored(string body, string kind, string field)
    {
        var (status, problem, text) = await f.Gateway.Client.SendAsync(HttpMethod.Post, "/v1/replicators", body);
        Assert.True(status == HttpStatusCode.BadRequest, text);
        Assert.Equal("urn:sluice:problem:" + kind, problem.GetProperty("type").GetString());
        Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await f.Gateway.Client.ExpectAsync(HttpMethod.Get, "/v1/replicators/b1", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Secrets_AreWriteOnly_AndAPutWithoutThemKeepsThem()
    {
        var topic = Gateway.NewTopic("api");
        var name = SinkScenarios.NewName();
        var body = SinkScenarios.Body(name, topic, f.Target);
        var created = await f.Gateway.Client.CreateReplicatorAsync(body);
        Assert.Equal(["token", "wh"], created.GetProperty("secrets").EnumerateArray().Select(s => s.GetString()).Order(StringComparer.Ordinal));
        Assert.Equal("${secret:wh}", created.GetProperty("sink").GetProperty("signingSecret").GetString());

        body.Remove("secrets");
        body["batch"] = new JsonObject { ["maxRecords"] = 7 };
        var (status, changed, text) = await f.Gateway.Client.SendAsync(HttpMethod.Put, $"/v1/replicators/{name}", body.ToJsonString());
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal(7, changed.GetProperty("batch").GetProperty("maxRecords").GetInt32());
        Assert.Equal(2, changed.GetProperty("secrets").GetArrayLength());
        SinkScenarios.AssertNoSecrets(f.Target, text);
        await f.Gateway.Client.ExpectAsync(HttpMethod.Delete, $"/v1/replicators/{name}", HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Post_OfAnExistingName_Is409_AndDelete_RemovesItAndItsSubscription()
    {
        var topic = Gateway.NewTopic("api");
        await f.Gateway.CreateTopicAsync(topic, 1);
        await f.Target.PrepareAsync(topic);
        var name = SinkScenarios.NewName();
        var body = SinkScenarios.Body(name, topic, f.Target);
        await f.Gateway.Client.CreateReplicatorAsync(body);
        var again = await f.Gateway.Client.SendAsync(HttpMethod.Post, "/v1/replicators", body.ToJsonString());
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("urn:sluice:problem:replicator-exists", again.Body.GetProperty("type").GetString());

        await f.Gateway.ProduceAsync(topic, TestRecord.Make(3));
        await f.Target.WaitForRecordsAsync(topic, 3);
        var subscriptions = await SluiceApi.SendOkAsync(f.Gateway.Client, new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions"));
        Assert.Contains("replicator-" + name, subscriptions.GetProperty("subscriptions").EnumerateArray().Select(s => s.ValueKind == System.Text.Json.JsonValueKind.String ? s.GetString() : s.GetProperty("name").GetString()));

        await f.Gateway.Client.ExpectAsync(HttpMethod.Delete, $"/v1/replicators/{name}", HttpStatusCode.NoContent);
        await f.Gateway.Client.ExpectAsync(HttpMethod.Get, $"/v1/replicators/{name}", HttpStatusCode.NotFound);
        await f.Gateway.Client.ExpectAsync(HttpMethod.Get, $"/v1/replicators/{name}/status", HttpStatusCode.NotFound);
        await f.Gateway.Client.ExpectAsync(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/replicator-{name}", HttpStatusCode.NotFound);
        var listed = await f.Gateway.Client.SendAsync(HttpMethod.Get, "/v1/replicators");
        Assert.DoesNotContain(name, listed.Text, StringComparison.Ordinal);
        output.WriteLine(listed.Text);
    }

    [Fact]
    public async Task SourceTopicMissing_StatusSaysRetrying_ThenReplicatesOnceItExists()
    {
        var topic = Gateway.NewTopic("late");
        await f.Target.PrepareAsync(topic);
        var name = SinkScenarios.NewName();
        await f.Gateway.Client.CreateReplicatorAsync(SinkScenarios.Body(name, topic, f.Target));
        var waiting = await f.Gateway.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "retrying");
        Assert.Contains("does not exist", waiting.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        await f.Gateway.CreateTopicAsync(topic, 2);
        await f.Gateway.ProduceAsync(topic, TestRecord.Make(4));
        await f.Target.WaitForRecordsAsync(topic, 4, timeoutSeconds: 30);
        await f.Gateway.Client.WaitForStatusAsync(name, s => s.GetProperty("state").GetString() == "running");
    }
}

/// <summary>The http sink's own promises: signature, headers, SSRF guard.</summary>
public sealed class HttpSinkRequestTests(HttpSinkFixture f) : IClassFixture<HttpSinkFixture>
{
    [Fact]
    public async Task Requests_AreSignedWithStandardWebhooks_AndCarryIdempotencyKeyAndHeaders()
    {
        var receiver = (HttpReceiver)f.Target;
        var topic = Gateway.NewTopic("sign");
        await f.Gateway.CreateTopicAsync(topic, 1);
        await f.Gateway.Client.CreateReplicatorAsync(SinkScenarios.Body(SinkScenarios.NewName(), topic, receiver));
        await f.Gateway.ProduceAsync(topic, TestRecord.Make(5));
        await receiver.WaitForRecordsAsync(topic, 5);
        var request = receiver.Requests.First(r => r.Path == "/in/" + topic);
        var id = request.Headers["webhook-id"];
        Assert.Equal(request.Headers["Idempotency-Key"], id);
        Assert.StartsWith(topic + "/0/0-", id, StringComparison.Ordinal);
        Assert.Equal("Bearer " + receiver.Secrets["token"], request.Headers["Authorization"]);
        var timestamp = request.Headers["webhook-timestamp"];
        var key = Convert.FromBase64String(receiver.Secrets["wh"]["whsec_".Length..]);
        var signed = System.Text.Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(request.Body).ToArray();
        Assert.Equal("v1," + Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(key, signed)), request.Headers["webhook-signature"]);
    }

    [Fact]
    public async Task UrlOfAPrivateAddress_IsRefusedUnlessPrivateCallsAreAllowed()
    {
        await using var strict = new ServerProcess();
        await strict.StartAsync();
        var body = """{"name":"p1","source":{"topic":"a/b/c"},"sink":{"type":"http","url":"http://127.0.0.1:9/x"}}""";
        var (status, problem, text) = await strict.Client.SendAsync(HttpMethod.Post, "/v1/replicators", body);
        Assert.True(status == HttpStatusCode.BadRequest, text);
        Assert.Contains("sink.url", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("loopback", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
