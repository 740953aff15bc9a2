using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Sluice.Server.Compat.Pixy.Protocol;
using Sluice.Server.Grpc.V1;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Webhooks;

namespace Sluice.Server.Tests.Clusters;

/// <summary>
/// Two Kafka clusters served by one gateway, the same topic names in each, kept apart on every surface: Sluice's HTTP
/// API (<c>/v1/clusters/{name}/...</c>), subscriptions, webhooks, replicators, Kafka-Pixy's REST and gRPC
/// <c>cluster</c>, Sluice's gRPC <c>cluster</c>. Runs once: the gateway starts its own mock clusters whatever the pass.
/// </summary>
[Trait("Backend", "OwnKafka")]
public sealed class TwoClustersTests(TwoClusters clusters, ITestOutputHelper output) : IClassFixture<TwoClusters>, IDisposable
{
    private readonly HttpClient _default = clusters.Default;
    private readonly HttpClient _east = clusters.East;

    public void Dispose() => clusters.Server.WriteOutputTo(output, lastLines: 60);

    private static async Task<List<string>> ReadValuesAsync(HttpClient client, string topic, int partition = 0)
    {
        using var response = await client.GetAsync($"/v1/topics/{topic}/messages?partition={partition}&offset=0");
        var body = await SluiceApi.ReadJsonAsync(response);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            Assert.Equal("urn:sluice:problem:topic-not-found", body.GetProperty("type").GetString());
            return [];
        }

        Assert.True(response.IsSuccessStatusCode, $"read answered {(int)response.StatusCode}: {body}");
        return [.. body.GetProperty("messages").EnumerateArray().Select(m => m.Value())];
    }

    [Fact]
    public async Task ClusterList_NamesBoth_WithTheirOwnBootstrapServers()
    {
        var list = await SluiceApi.SendOkAsync(_default, new HttpRequestMessage(HttpMethod.Get, "/v1/clusters"));
        var all = list.GetProperty("clusters").EnumerateArray().ToList();
        Assert.Equal(["default", "east"], all.Select(c => c.GetProperty("name").GetString()));
        var bootstraps = all.Select(c => c.GetProperty("kafkaBootstrap").GetString()).ToList();
        Assert.All(bootstraps, b => Assert.StartsWith("127.0.0.1:", b, StringComparison.Ordinal));
        Assert.NotEqual(bootstraps[0], bootstraps[1]);
    }

    [Fact]
    public async Task SameTopicName_ProducedToEast_IsReadOnlyFromEast_AndDefaultRoutesAreTheDefaultCluster()
    {
        var topic = SluiceApi.NewTopic("two");
        await _east.ProduceAsync(topic, "east-1", partition: 0);
        await _east.ProduceAsync(topic, "east-2", partition: 0);
        await _default.ProduceAsync(topic, "default-1", partition: 0);

        Assert.Equal(["east-1", "east-2"], await ReadValuesAsync(_east, topic));
        Assert.Equal(["default-1"], await ReadValuesAsync(_default, topic));
        using var viaName = ClusterClient.For(clusters.Server, "default");
        Assert.Equal(["default-1"], await ReadValuesAsync(viaName, topic));
        Assert.Equal(2, (await _east.EndOffsetsAsync(topic))[0]);
        Assert.Equal(1, (await _default.EndOffsetsAsync(topic))[0]);

        // A topic created in one cluster only does not exist in the other.
        var eastOnly = SluiceApi.NewTopic("east-only");
        await _east.ProduceAsync(eastOnly, "x", partition: 0);
        Assert.Empty(await _default.EndOffsetsAsync(eastOnly));
        var listed = await SluiceApi.SendOkAsync(_default, new HttpRequestMessage(HttpMethod.Get, "/v1/topics"));
        Assert.DoesNotContain(eastOnly, listed.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
        listed = await SluiceApi.SendOkAsync(_east, new HttpRequestMessage(HttpMethod.Get, "/v1/topics"));
        Assert.Contains(eastOnly, listed.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task Subscriptions_OfOneCluster_AreNotTheOthers_AndTheirAckIdsDoNotCross()
    {
        var topic = SluiceApi.NewTopic("subs");
        await _east.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _east.ProduceAsync(topic, "for-east");
        await _default.ProduceAsync(topic, "for-default");

        using (var missing = await _default.GetAsync($"/v1/topics/{topic}/subscriptions/s"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var got = await _east.DrainAsync(topic, "s", 1, ack: false);
        Assert.Equal(["for-east"], got.Select(m => m.Value()));

        // The same name in the default cluster is another subscription, with its own cursor.
        await _default.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var fromDefault = await _default.DrainAsync(topic, "s", 1, ack: false);
        Assert.Equal(["for-default"], fromDefault.Select(m => m.Value()));

        // East's ack id means nothing to the default cluster's subscription; on east it acks.
        var crossed = await _default.AckAsync(topic, "s", [got[0].AckId()]);
        Assert.Equal(0, crossed.GetProperty("acked").GetInt32());
        var acked = await _east.AckAsync(topic, "s", [got[0].AckId()]);
        Assert.Equal(1, acked.GetProperty("acked").GetInt32());
    }

    [Fact]
    public async Task DelayedMessage_ProducedToEast_IsHeldAndListedInEastOnly_ThenDeliveredThere()
    {
        var topic = SluiceApi.NewTopic("delay-two");
        await _east.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        using (var produce = new HttpRequestMessage(HttpMethod.Post, $"/v1/topics/{topic}/messages?deliverAfterMs=3000&partition=0") { Content = new StringContent("later", Encoding.UTF8, "text/plain") })
        {
            var held = await SluiceApi.SendOkAsync(_east, produce);
            Assert.StartsWith("d:", held.GetProperty("id").GetString(), StringComparison.Ordinal);
        }

        var eastList = await SluiceApi.SendOkAsync(_east, new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/delayed"));
        Assert.Equal(1, eastList.GetProperty("count").GetInt32());
        using (var defaultList = await _default.GetAsync($"/v1/topics/{topic}/delayed"))
        {
            var body = await SluiceApi.ReadJsonAsync(defaultList);
            Assert.True(defaultList.StatusCode == HttpStatusCode.NotFound || body.GetProperty("count").GetInt32() == 0, $"default cluster's listing: {(int)defaultList.StatusCode} {body}");
        }

        var delivered = await _east.DrainAsync(topic, "s", 1);
        Assert.Equal(["later"], delivered.Select(m => m.Value()));
        Assert.Empty(await ReadValuesAsync(_default, topic));
    }

    [Fact]
    public async Task SseStream_OnEast_DeliversEastsMessages()
    {
        var topic = SluiceApi.NewTopic("sse-two");
        await _east.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _default.ProduceAsync(topic, "default-only");
        await _east.ProduceAsync(topic, "east-streamed");

        await using var sse = await Streaming.SseClient.OpenAsync(clusters.Server.Client.BaseAddress!, $"/v1/clusters/east/topics/{topic}/subscriptions/s/events");
        var events = await sse.MessagesAsync(1, TimeSpan.FromSeconds(60));
        Assert.Equal("east-streamed", events[0].Json.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Webhooks_BelongToTheirCluster_AndDeliverOnlyItsMessages()
    {
        await using var eastReceiver = await WebhookReceiver.StartAsync();
        await using var defaultReceiver = await WebhookReceiver.StartAsync();
        var topic = SluiceApi.NewTopic("wh-two");

        using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/webhooks") { Content = SluiceApi.Json(new { topic, url = eastReceiver.Url }) };
        using var created = await _east.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var eastId = (await SluiceApi.ReadJsonAsync(created)).GetProperty("id").GetString()!;
        Assert.Equal($"/v1/clusters/east/webhooks/{eastId}", created.Headers.Location?.OriginalString);
        var defaultId = (await _default.CreateWebhookAsync(new { topic, url = defaultReceiver.Url })).GetProperty("id").GetString()!;

        await _east.ProduceAsync(topic, "to-east");
        await _default.ProduceAsync(topic, "to-default");
        await eastReceiver.WaitForAsync(c => c.Count >= 1, timeoutSeconds: 60);
        await defaultReceiver.WaitForAsync(c => c.Count >= 1, timeoutSeconds: 60);
        await _east.WaitForStatsAsync(eastId, s => s.GetProperty("delivered").GetInt64() == 1 && s.GetProperty("inFlight").GetInt32() == 0, timeoutSeconds: 60);
        await _default.WaitForStatsAsync(defaultId, s => s.GetProperty("delivered").GetInt64() == 1 && s.GetProperty("inFlight").GetInt32() == 0, timeoutSeconds: 60);
        Assert.Equal(["to-east"], eastReceiver.Calls.Select(c => c.Text));
        Assert.Equal(["to-default"], defaultReceiver.Calls.Select(c => c.Text));

        // Each cluster lists and finds its own registrations only.
        var eastList = await SluiceApi.SendOkAsync(_east, new HttpRequestMessage(HttpMethod.Get, "/v1/webhooks"));
        Assert.Equal([eastId], eastList.GetProperty("webhooks").EnumerateArray().Select(w => w.GetProperty("id").GetString()).Where(id => id == eastId || id == defaultId));
        using var notHere = await _default.GetAsync($"/v1/webhooks/{eastId}");
        Assert.Equal(HttpStatusCode.NotFound, notHere.StatusCode);
    }

    [Fact]
    public async Task TopicDeletedInEast_UnderALiveWebhook_LeavesTheDefaultClustersTopicAndWebhook_AndEastResumesWhenItIsBack()
    {
        await using var eastReceiver = await WebhookReceiver.StartAsync();
        await using var defaultReceiver = await WebhookReceiver.StartAsync();
        var topic = SluiceApi.NewTopic("wh-del");
        using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/webhooks") { Content = SluiceApi.Json(new { topic, url = eastReceiver.Url }) };
        using var created = await _east.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var eastId = (await SluiceApi.ReadJsonAsync(created)).GetProperty("id").GetString()!;
        var defaultId = (await _default.CreateWebhookAsync(new { topic, url = defaultReceiver.Url })).GetProperty("id").GetString()!;
        await _east.ProduceAsync(topic, "east-before");
        await _default.ProduceAsync(topic, "default-before");
        await eastReceiver.WaitForAsync(c => c.Count >= 1, timeoutSeconds: 60);
        await defaultReceiver.WaitForAsync(c => c.Count >= 1, timeoutSeconds: 60);

        using (var deleted = await _east.DeleteAsync($"/v1/topics/{topic}"))
        {
            Assert.True(deleted.IsSuccessStatusCode, $"DELETE topic on east answered {(int)deleted.StatusCode}: {await deleted.Content.ReadAsStringAsync()}");
        }

        // The default cluster's topic of the same name and its webhook are untouched.
        Assert.Equal(["default-before"], await ReadValuesAsync(_default, topic));
        await _default.ProduceAsync(topic, "default-after");
        await defaultReceiver.WaitForAsync(c => c.Any(x => x.Text == "default-after"), timeoutSeconds: 60);
        Assert.Empty(await ReadValuesAsync(_east, topic));

        // East's webhook outlives its topic, and delivers again once the topic is back.
        using var stillRegistered = await _east.GetAsync($"/v1/webhooks/{eastId}");
        Assert.Equal(HttpStatusCode.OK, stillRegistered.StatusCode);
        await _east.ProduceAsync(topic, "east-after");
        await eastReceiver.WaitForAsync(c => c.Any(x => x.Text == "east-after"), timeoutSeconds: 90);
        Assert.DoesNotContain(eastReceiver.Calls, c => c.Text.StartsWith("default-", StringComparison.Ordinal));
        Assert.DoesNotContain(defaultReceiver.Calls, c => c.Text.StartsWith("east-", StringComparison.Ordinal));
        await _default.WaitForStatsAsync(defaultId, s => s.GetProperty("delivered").GetInt64() == 2, timeoutSeconds: 60);
    }

    [Fact]
    public async Task Replicators_OfTheSameName_InEachCluster_CopyOnlyTheirClustersMessages()
    {
        await using var eastReceiver = await WebhookReceiver.StartAsync();
        await using var defaultReceiver = await WebhookReceiver.StartAsync();
        var topic = SluiceApi.NewTopic("repl-two");
        var name = "r" + Guid.NewGuid().ToString("N")[..8];

        foreach (var (client, receiver) in new[] { (_east, eastReceiver), (_default, defaultReceiver) })
        {
            var body = new { source = new { topic, position = "earliest" }, sink = new { type = "http", url = receiver.Url, format = "single" } };
            using var response = await client.PutAsync($"/v1/replicators/{name}", SluiceApi.Json(body));
            Assert.True(response.IsSuccessStatusCode, $"PUT replicator answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        await _east.ProduceAsync(topic, "copy-from-east");
        await _default.ProduceAsync(topic, "copy-from-default");
        await eastReceiver.WaitForAsync(c => c.Any(x => x.Text.Contains("copy-from-east", StringComparison.Ordinal)), timeoutSeconds: 60);
        await defaultReceiver.WaitForAsync(c => c.Any(x => x.Text.Contains("copy-from-default", StringComparison.Ordinal)), timeoutSeconds: 60);
        Assert.DoesNotContain(eastReceiver.Calls, c => c.Text.Contains("copy-from-default", StringComparison.Ordinal));
        Assert.DoesNotContain(defaultReceiver.Calls, c => c.Text.Contains("copy-from-east", StringComparison.Ordinal));

        // Deleting east's leaves the default cluster's running.
        using (var deleted = await _east.DeleteAsync($"/v1/replicators/{name}"))
        {
            Assert.True(deleted.IsSuccessStatusCode, $"DELETE answered {(int)deleted.StatusCode}");
        }

        using var stillThere = await _default.GetAsync($"/v1/replicators/{name}");
        Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        using var gone = await _east.GetAsync($"/v1/replicators/{name}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task UnknownCluster_IsA404ClusterNotFound_NamingTheConfiguredOnes_OnEveryRoute()
    {
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/v1/clusters/west/topics"), (HttpMethod.Post, "/v1/clusters/west/topics/a/b/c/messages"), (HttpMethod.Get, "/v1/clusters/west/webhooks"), (HttpMethod.Get, "/v1/clusters/west") })
        {
            using var response = await _default.SendAsync(new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? new StringContent("x") : null });
            var problem = await SluiceApi.ReadJsonAsync(response);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("urn:sluice:problem:cluster-not-found", problem.GetProperty("type").GetString());
            Assert.Equal("cluster 'west' is not configured; the clusters are default, east", problem.GetProperty("detail").GetString());
        }

        // A configured cluster's route that does not exist is routing's own 404, not cluster-not-found.
        using var noRoute = await _default.GetAsync("/v1/clusters/east/no-such-route");
        Assert.Equal(HttpStatusCode.NotFound, noRoute.StatusCode);
        Assert.DoesNotContain("cluster-not-found", await noRoute.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PixyRest_ClusterRoute_ReachesItsCluster_AndThePlainRouteTheDefault()
    {
        var topic = PixyTopicName();
        var group = "g" + Guid.NewGuid().ToString("N")[..8];

        // A group starts at the end as of its first request (which times out): make it in both clusters.
        Assert.Equal(HttpStatusCode.RequestTimeout, (await PixyRestAsync(HttpMethod.Get, $"/clusters/east/topics/{topic}/messages?group={group}")).Status);
        Assert.Equal(HttpStatusCode.RequestTimeout, (await PixyRestAsync(HttpMethod.Get, $"/topics/{topic}/messages?group={group}")).Status);

        var produced = await PixyRestAsync(HttpMethod.Post, $"/clusters/east/topics/{topic}/messages?sync", "pixy-east");
        Assert.Equal(HttpStatusCode.OK, produced.Status);
        Assert.Equal(0, produced.Body.GetProperty("offset").GetInt64());

        var consumed = await PixyRestAsync(HttpMethod.Get, $"/clusters/east/topics/{topic}/messages?group={group}");
        Assert.Equal(HttpStatusCode.OK, consumed.Status);
        Assert.Equal("pixy-east", Encoding.UTF8.GetString(consumed.Body.GetProperty("value").GetBytesFromBase64()));
        Assert.Equal(HttpStatusCode.RequestTimeout, (await PixyRestAsync(HttpMethod.Get, $"/topics/{topic}/messages?group={group}")).Status);
        Assert.Equal(HttpStatusCode.RequestTimeout, (await PixyRestAsync(HttpMethod.Get, $"/clusters/default/topics/{topic}/messages?group={group}")).Status);

        // Pixy's topic is Sluice's kafka/topics/<name> in the same cluster.
        Assert.Equal(["pixy-east"], await ReadValuesAsync(_east, "kafka/topics/" + topic));
        Assert.Empty(await ReadValuesAsync(_default, "kafka/topics/" + topic));

        var unknown = await PixyRestAsync(HttpMethod.Get, $"/clusters/west/topics/{topic}/messages?group={group}");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        Assert.Equal("proxy `west` does not exist", unknown.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task PixyGrpc_ClusterField_SelectsTheCluster_AndAnUnknownOneIsInvalidArgument()
    {
        var pixy = new KafkaPixy.KafkaPixyClient(clusters.Channel);
        var topic = PixyTopicName();
        var group = "g" + Guid.NewGuid().ToString("N")[..8];
        foreach (var cluster in new[] { "east", "" })
        {
            var timeout = await Assert.ThrowsAsync<RpcException>(async () => await pixy.ConsumeNAckAsync(new ConsNAckRq { Cluster = cluster, Topic = topic, Group = group, NoAck = true }));
            Assert.Equal(StatusCode.NotFound, timeout.StatusCode);
        }

        var produced = await pixy.ProduceAsync(new ProdRq { Cluster = "east", Topic = topic, KeyUndefined = true, Message = ByteString.CopyFromUtf8("grpc-east") });
        Assert.Equal(0, produced.Offset);
        var got = await pixy.ConsumeNAckAsync(new ConsNAckRq { Cluster = "east", Topic = topic, Group = group, AutoAck = true });
        Assert.Equal("grpc-east", got.Message.ToStringUtf8());
        var nothing = await Assert.ThrowsAsync<RpcException>(async () => await pixy.ConsumeNAckAsync(new ConsNAckRq { Cluster = "", Topic = topic, Group = group, NoAck = true }));
        Assert.Equal(StatusCode.NotFound, nothing.StatusCode);

        var offsets = await pixy.GetOffsetsAsync(new GetOffsetsRq { Cluster = "east", Topic = topic, Group = group });
        Assert.Equal(1, offsets.Offsets.Sum(o => o.End));
        var defaultOffsets = await pixy.GetOffsetsAsync(new GetOffsetsRq { Cluster = "default", Topic = topic, Group = group });
        Assert.Equal(0, defaultOffsets.Offsets.Sum(o => o.End));

        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await pixy.ProduceAsync(new ProdRq { Cluster = "west", Topic = topic, Message = ByteString.CopyFromUtf8("x") }));
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Equal("proxy `west` does not exist", unknown.Status.Detail);
    }

    [Fact]
    public async Task SluiceGrpc_ClusterField_SelectsTheCluster_OnUnaryAndStreamedCalls()
    {
        var client = new Sluice.Server.Grpc.V1.Sluice.SluiceClient(clusters.Channel);
        var topic = SluiceApi.NewTopic("grpc-two");
        await client.ProduceAsync(new ProduceRequest { Cluster = "east", Topic = topic, Value = ByteString.CopyFromUtf8("unary-east"), Partition = 0 });
        using (var batch = client.ProduceBatch())
        {
            await batch.RequestStream.WriteAsync(new ProduceRequest { Cluster = "east", Topic = topic, Value = ByteString.CopyFromUtf8("batch-east"), Partition = 0 });
            await batch.RequestStream.WriteAsync(new ProduceRequest { Topic = topic, Value = ByteString.CopyFromUtf8("batch-east-2"), Partition = 0 });
            await batch.RequestStream.CompleteAsync();
            await batch;
        }

        Assert.Equal(["unary-east", "batch-east", "batch-east-2"], await ReadValuesAsync(_east, topic));
        Assert.Empty(await ReadValuesAsync(_default, topic));

        var pulled = await client.PullAsync(new PullRequest { Cluster = "east", Topic = topic, Subscription = "s", WaitMs = 0 });
        Assert.Empty(pulled.Messages);   // created at the end
        await client.ProduceAsync(new ProduceRequest { Cluster = "east", Topic = topic, Value = ByteString.CopyFromUtf8("after"), Partition = 0 });
        pulled = await client.PullAsync(new PullRequest { Cluster = "east", Topic = topic, Subscription = "s", WaitMs = 10_000 });
        Assert.Equal("after", Assert.Single(pulled.Messages).Value.ToStringUtf8());
        var acked = await client.AckAsync(new AckRequest { Cluster = "east", Topic = topic, Subscription = "s", AckIds = { pulled.Messages[0].AckId } });
        Assert.Equal(1, acked.Succeeded);

        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await client.PullAsync(new PullRequest { Cluster = "west", Topic = topic, Subscription = "s" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("urn:sluice:problem:cluster-not-found", unknown.Trailers.GetValue(Sluice.Server.Grpc.GrpcErrors.ProblemTypeTrailer));

        // A batch goes to one cluster: a later message naming another is refused.
        using var mixed = client.ProduceBatch();
        await mixed.RequestStream.WriteAsync(new ProduceRequest { Cluster = "east", Topic = topic, Value = ByteString.CopyFromUtf8("m1") });
        await mixed.RequestStream.WriteAsync(new ProduceRequest { Cluster = "default", Topic = topic, Value = ByteString.CopyFromUtf8("m2") });
        await mixed.RequestStream.CompleteAsync();
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await mixed);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
    }

    [Fact]
    public void Logs_NameTheOtherCluster()
    {
        Assert.Contains("Sluice.Kafka.KafkaLog@east", clusters.Server.Output, StringComparison.Ordinal);
        Assert.Contains("Kafka cluster east open at 127.0.0.1:", clusters.Server.Output, StringComparison.Ordinal);
    }

    private static string PixyTopicName() => "pixy-" + Guid.NewGuid().ToString("N");

    private async Task<(HttpStatusCode Status, JsonElement Body)> PixyRestAsync(HttpMethod method, string path, string? message = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = message is null ? null : new StringContent(message, Encoding.UTF8, "text/plain") { Headers = { ContentType = new("text/plain") } } };
        using var response = await _default.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }
}
