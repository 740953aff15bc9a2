using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Sluice.Server.Grpc.V1;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Pixy;

namespace Sluice.Server.Tests.Grpc;

/// <summary>Sluice's own gRPC API (<c>sluice.v1.Sluice</c>) with health and reflection, on the gRPC listener (both backends).</summary>
public sealed class SluiceGrpcTests(PixyServer server, ITestOutputHelper output) : IClassFixture<PixyServer>, IDisposable
{
    private readonly Sluice.Server.Grpc.V1.Sluice.SluiceClient _client = new(server.Channel);

    public void Dispose() => server.Server.WriteOutputTo(output, lastLines: 40);

    private static ProduceRequest Message(string topic, string value, string? key = null)
    {
        var request = new ProduceRequest { Topic = topic, Value = ByteString.CopyFromUtf8(value) };
        if (key is not null)
        {
            request.Key = ByteString.CopyFromUtf8(key);
        }

        return request;
    }

    [Fact]
    public async Task Produce_KeyedMessage_LandsWhereTheHttpApiPutsTheSameKey_AndIsPulledWithKeyAndHeaders()
    {
        var topic = SluiceApi.NewTopic();
        var viaHttp = await server.Client.ProduceAsync(topic, "http", key: "customer-42");
        var request = Message(topic, "grpc", key: "customer-42");
        request.Headers["trace"] = "t-1";
        var produced = await _client.ProduceAsync(request);
        Assert.Equal(viaHttp.GetProperty("partition").GetInt32(), produced.Partition);
        Assert.Equal(1, produced.Offset);
        Assert.Equal($"{produced.Partition}:1", produced.Id);

        await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", WaitMs = 0 });   // creates it at the end
        await _client.ProduceAsync(request);
        var pulled = await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", ConsumerId = "w1", WaitMs = 10_000 });
        var m = Assert.Single(pulled.Messages);
        Assert.Equal("grpc", m.Value.ToStringUtf8());
        Assert.Equal("customer-42", m.Key.ToStringUtf8());
        Assert.Equal("t-1", m.Headers["trace"]);
        Assert.Equal(1, m.DeliveryAttempt);

        var acked = await _client.AckAsync(new AckRequest { Topic = topic, Subscription = "s", AckIds = { m.AckId, "nonsense" } });
        Assert.Equal(1, acked.Succeeded);
        Assert.Equal(["nonsense"], acked.Unknown);
    }

    [Fact]
    public async Task ProduceBatch_ClientStream_AnswersInRequestOrder_AndABadMessageAppendsNothing()
    {
        var topic = SluiceApi.NewTopic();
        using (var call = _client.ProduceBatch())
        {
            for (var i = 0; i < 5; i++)
            {
                await call.RequestStream.WriteAsync(Message(topic, "b" + i, key: i % 2 == 0 ? "even" : null));
            }

            await call.RequestStream.CompleteAsync();
            var results = (await call.ResponseAsync).Results;
            Assert.Equal(5, results.Count);
            Assert.Equal(results[0].Partition, results[2].Partition);
            Assert.Equal(results[0].Offset + 1, results[2].Offset);
        }

        var before = await server.Client.GetTopicAsync(topic);
        using (var bad = _client.ProduceBatch())
        {
            await bad.RequestStream.WriteAsync(Message(topic, "fine"));
            await bad.RequestStream.WriteAsync(new ProduceRequest { Topic = topic, Value = ByteString.CopyFromUtf8("x"), Partition = 99 });
            await bad.RequestStream.CompleteAsync();
            var error = await Assert.ThrowsAsync<RpcException>(async () => await bad.ResponseAsync);
            Assert.Equal(StatusCode.NotFound, error.StatusCode);
            Assert.Equal("urn:sluice:problem:partition-not-found", error.Trailers.GetValue(Sluice.Server.Grpc.GrpcErrors.ProblemTypeTrailer));
        }

        var after = await server.Client.GetTopicAsync(topic);
        Assert.Equal(before.ToString(), after.ToString());
    }

    [Fact]
    public async Task Nack_RedeliversWithTheNextAttempt()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s" });
        await _client.ProduceAsync(Message(topic, "again"));
        var first = Assert.Single((await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", WaitMs = 10_000 })).Messages);
        var nacked = await _client.NackAsync(new NackRequest { Topic = topic, Subscription = "s", AckIds = { first.AckId } });
        Assert.Equal(1, nacked.Succeeded);
        var second = Assert.Single((await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", WaitMs = 10_000 })).Messages);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(2, second.DeliveryAttempt);
    }

    [Fact]
    public async Task Consume_SendsNoMoreThanThePermits_AcksOnTheStream_AndReleasesWhatItHeldWhenItEnds()
    {
        var topic = SluiceApi.NewTopic();
        using var call = _client.Consume();
        await call.RequestStream.WriteAsync(new ConsumeRequest { Subscribe = new Subscribe { Topic = topic, Subscription = "stream", Permits = 2 } });
        // The subscription exists (at the end) once a pull on it answers: then produce.
        await EventuallyAsync(async () => (await server.Client.GetAsync($"/v1/topics/{topic}/subscriptions/stream")).IsSuccessStatusCode);
        for (var i = 0; i < 5; i++)
        {
            await _client.ProduceAsync(Message(topic, "s" + i, key: "one"));
        }

        var got = new List<ReceivedMessage>();
        while (got.Count < 2)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            got.Add(call.ResponseStream.Current.Message);
        }

        // Two permits, two messages: the third, ready since before, waits for a permit, so what comes next is the ack's answer.
        await call.RequestStream.WriteAsync(new ConsumeRequest { Ack = new Settle { AckIds = { got[0].AckId } } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(ConsumeResponse.KindOneofCase.AckResult, call.ResponseStream.Current.KindCase);
        Assert.Equal(1, call.ResponseStream.Current.AckResult.Succeeded);

        await call.RequestStream.WriteAsync(new ConsumeRequest { Permits = 1 });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal("s2", call.ResponseStream.Current.Message.Value.ToStringUtf8());
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }

        // s1 and s2 were held unacked by the stream: released when it ended, so a pull gets them (and s3, s4) now.
        var rest = new List<string>();
        while (rest.Count < 4)
        {
            rest.AddRange((await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "stream", WaitMs = 10_000 })).Messages.Select(m => m.Value.ToStringUtf8()));
        }

        Assert.Equal(["s1", "s2", "s3", "s4"], rest.Order());
    }

    [Fact]
    public async Task BadInput_IsInvalidArgument_WithTheProblemTypeInTheTrailer()
    {
        var name = await Assert.ThrowsAsync<RpcException>(async () => await _client.ProduceAsync(Message("not-a/topic", "x")));
        Assert.Equal(StatusCode.InvalidArgument, name.StatusCode);
        Assert.Equal("urn:sluice:problem:invalid-name", name.Trailers.GetValue(Sluice.Server.Grpc.GrpcErrors.ProblemTypeTrailer));

        var max = await Assert.ThrowsAsync<RpcException>(async () => await _client.PullAsync(new PullRequest { Topic = SluiceApi.NewTopic(), Subscription = "s", Max = 5000 }));
        Assert.Equal(StatusCode.InvalidArgument, max.StatusCode);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await _client.AckAsync(new AckRequest { Topic = SluiceApi.NewTopic(), Subscription = "none", AckIds = { "x" } }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task HealthAndReflection_Answer_OnTheGrpcPort_AndTheHttpApiIsNotServedThere()
    {
        var health = await new Health.HealthClient(server.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        using var reflection = new ServerReflection.ServerReflectionClient(server.Channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await reflection.RequestStream.CompleteAsync();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None));
        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("sluice.v1.Sluice", services);
        Assert.Contains("KafkaPixy", services);
        Assert.Contains("grpc.health.v1.Health", services);

        using var http2 = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var plain = await http2.GetAsync($"http://127.0.0.1:{server.Server.GrpcPort}/v1/topics");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, plain.StatusCode);
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            await Task.Delay(50, guard.Token);
        }
    }
}
