using Google.Protobuf;
using Grpc.Core;
using Sluice.Server.Grpc.V1;
using Sluice.Server.Tests.Delay;
using Sluice.Server.Tests.Infrastructure;
using Sluice.Server.Tests.Pixy;

namespace Sluice.Server.Tests.Grpc;

/// <summary>
/// Delayed messages through Sluice's gRPC API (<c>deliver_at_ms</c> / <c>deliver_after_ms</c>, <c>CancelDelayed</c>), on
/// both backends: held until due, then delivered with their delayed id; cancellable; bad times refused with nothing stored.
/// </summary>
public sealed class SluiceGrpcDelayTests(PixyServer server, ITestOutputHelper output) : IClassFixture<PixyServer>, IDisposable
{
    private readonly Sluice.Server.Grpc.V1.Sluice.SluiceClient _client = new(server.Channel);

    public void Dispose() => server.Server.WriteOutputTo(output, lastLines: 40);

    private static ProduceRequest Message(string topic, string value, int partition)
        => new() { Topic = topic, Value = ByteString.CopyFromUtf8(value), Partition = partition };

    [Fact]
    public async Task ProduceAndBatch_WithADeliveryTime_AreHeldUntilDue_ThenPulledWithTheirDelayId_EqualTimesInStreamOrder()
    {
        var topic = SluiceApi.NewTopic("grpc-delay");
        await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", WaitMs = 0 }); // created at the end, before anything fires
        var after = Message(topic, "after", 0);
        after.DeliverAfterMs = 6000; // long enough for the listing below to see all four held, on a loaded machine too
        after.Headers["trace"] = "t-1";
        var single = await _client.ProduceAsync(after);
        var due = DateTimeOffset.UtcNow.AddSeconds(8).ToUnixTimeMilliseconds();
        List<ProduceResponse> batch;
        using (var call = _client.ProduceBatch())
        {
            await call.RequestStream.WriteAsync(Message(topic, "now", 1));
            for (var i = 0; i < 3; i++)
            {
                var m = Message(topic, "at" + i, 1);
                m.DeliverAtMs = due;
                await call.RequestStream.WriteAsync(m);
            }

            await call.RequestStream.CompleteAsync();
            batch = [.. (await call.ResponseAsync).Results];
        }

        Assert.StartsWith("d:0:", single.Id, StringComparison.Ordinal);
        Assert.Equal(-1, single.Offset);
        Assert.True(single.DeliverAtMs > 0);
        Assert.Equal(("1:0", 0L, 0L), (batch[0].Id, batch[0].Offset, batch[0].DeliverAtMs));
        Assert.All(batch.Skip(1), r => Assert.Equal((-1L, due, 1), (r.Offset, r.DeliverAtMs, r.Partition)));
        Assert.Equal(3, batch.Skip(1).Select(r => r.Id).Distinct().Count());
        Assert.Equal(4, (await server.Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());

        var received = await ReceiveAsync(topic, "s", 5);
        var dueOf = batch.Skip(1).Append(single).ToDictionary(r => r.Id, r => r.DeliverAtMs);
        foreach (var (message, receivedAt) in received.Where(r => r.Message.Value.ToStringUtf8() != "now"))
        {
            var id = message.Headers["sluice-delay-id"];
            Assert.True(message.PublishTimeMs >= dueOf[id], $"{message.Value.ToStringUtf8()} was appended before its time");
            Assert.True(receivedAt.ToUnixTimeMilliseconds() >= dueOf[id], $"{message.Value.ToStringUtf8()} arrived before its time");
            Assert.True(receivedAt <= DateTimeOffset.FromUnixTimeMilliseconds(dueOf[id]) + DelayApi.LatenessBound, $"{message.Value.ToStringUtf8()} arrived late");
        }

        Assert.Equal("t-1", received.Single(r => r.Message.Value.ToStringUtf8() == "after").Message.Headers["trace"]);
        var partition1 = received.Select(r => r.Message).Where(m => m.Partition == 1).OrderBy(m => m.Offset).ToList();
        Assert.Equal(["now", "at0", "at1", "at2"], partition1.Select(m => m.Value.ToStringUtf8()));
        Assert.Equal(batch.Skip(1).Select(r => r.Id), partition1.Skip(1).Select(m => m.Headers["sluice-delay-id"]));
        Assert.Equal(0, (await server.Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task CancelDelayed_BeforeItsTime_ItNeverArrives_AndCancellingAgainOrAnUnknownIdIsFailedPrecondition()
    {
        var topic = SluiceApi.NewTopic("grpc-delay-cancel");
        await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", WaitMs = 0 });
        var doomed = Message(topic, "cancelled", 0);
        doomed.DeliverAfterMs = 8000; // room for a slow machine to cancel in time
        var kept = Message(topic, "kept", 0);
        kept.DeliverAfterMs = 2000;
        var cancelled = await _client.ProduceAsync(doomed);
        await _client.ProduceAsync(kept);

        await _client.CancelDelayedAsync(new CancelDelayedRequest { Topic = topic, Id = cancelled.Id });
        foreach (var id in new[] { cancelled.Id, "d:0:999:1" })
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await _client.CancelDelayedAsync(new CancelDelayedRequest { Topic = topic, Id = id }));
            Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
            Assert.Equal("urn:sluice:problem:not-cancellable", error.Trailers.GetValue(Sluice.Server.Grpc.GrpcErrors.ProblemTypeTrailer));
        }

        var malformed = await Assert.ThrowsAsync<RpcException>(async () => await _client.CancelDelayedAsync(new CancelDelayedRequest { Topic = topic, Id = "0:1" }));
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);

        Assert.Equal("kept", Assert.Single(await ReceiveAsync(topic, "s", 1)).Message.Value.ToStringUtf8());
        var wait = DateTimeOffset.FromUnixTimeMilliseconds(cancelled.DeliverAtMs) - DateTimeOffset.UtcNow;
        await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
        Assert.Empty((await _client.PullAsync(new PullRequest { Topic = topic, Subscription = "s", ConsumerId = "w", WaitMs = 2000 })).Messages);
    }

    [Fact]
    public async Task BadDeliveryTimes_AreInvalidArgument_AndABatchWithOneStoresNothing()
    {
        var topic = SluiceApi.NewTopic("grpc-delay-bad");
        await server.Client.ProduceAsync(topic, "exists", partition: 0);
        var year = (long)TimeSpan.FromDays(365).TotalMilliseconds;
        var bad = new List<ProduceRequest>();
        foreach (var (at, after) in new (long?, long?)[] { (null, year + 1), (null, -1), (DateTimeOffset.UtcNow.AddDays(366).ToUnixTimeMilliseconds(), null), (-5, null), (long.MaxValue, null), (1, 1) })
        {
            var m = Message(topic, "bad", 0);
            if (at is { } a)
            {
                m.DeliverAtMs = a;
            }

            if (after is { } b)
            {
                m.DeliverAfterMs = b;
            }

            bad.Add(m);
        }

        foreach (var m in bad)
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await _client.ProduceAsync(m));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Equal("urn:sluice:problem:invalid-parameter", error.Trailers.GetValue(Sluice.Server.Grpc.GrpcErrors.ProblemTypeTrailer));
            Assert.Contains("deliver", error.Status.Detail, StringComparison.Ordinal);
        }

        var before = (await server.Client.GetTopicAsync(topic)).ToString();
        using (var call = _client.ProduceBatch())
        {
            var fine = Message(topic, "fine", 0);
            fine.DeliverAfterMs = 60_000;
            await call.RequestStream.WriteAsync(fine);
            await call.RequestStream.WriteAsync(Message(topic, "plain", 0));
            await call.RequestStream.WriteAsync(bad[2]);
            await call.RequestStream.CompleteAsync();
            var error = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.StartsWith("message 2: ", error.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(before, (await server.Client.GetTopicAsync(topic)).ToString());
        Assert.Equal(0, (await server.Client.ListDelayedAsync(topic)).GetProperty("count").GetInt64());

        // A time already past is an ordinary produce.
        var past = Message(topic, "past", 0);
        past.DeliverAtMs = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds();
        var answer = await _client.ProduceAsync(past);
        Assert.Equal(("0:1", 1L, 0L), (answer.Id, answer.Offset, answer.DeliverAtMs));
    }

    // Pulls (acking) until count messages arrived, noting when each arrived; bounded only against a hang.
    private async Task<List<(ReceivedMessage Message, DateTimeOffset ReceivedAt)>> ReceiveAsync(string topic, string subscription, int count)
    {
        var all = new List<(ReceivedMessage, DateTimeOffset)>();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (all.Count < count)
        {
            var pulled = await _client.PullAsync(new PullRequest { Topic = topic, Subscription = subscription, ConsumerId = "w", Max = 1000, WaitMs = 500 }, cancellationToken: guard.Token);
            var at = DateTimeOffset.UtcNow;
            all.AddRange(pulled.Messages.Select(m => (m, at)));
            if (pulled.Messages.Count > 0)
            {
                await _client.AckAsync(new AckRequest { Topic = topic, Subscription = subscription, AckIds = { pulled.Messages.Select(m => m.AckId) } });
            }
        }

        return all;
    }
}
