using Google.Protobuf;
using Grpc.Core;
using Sluice.Server.Compat.Pixy.Protocol;

namespace Sluice.Server.Tests.Pixy;

/// <summary>Kafka-Pixy's gRPC service (<c>/KafkaPixy/*</c>) over h2c, pinned from Pixy's proto and documented codes (both backends).</summary>
public sealed class PixyGrpcTests(PixyServer pixy, ITestOutputHelper output) : IClassFixture<PixyServer>, IDisposable
{
    private readonly KafkaPixy.KafkaPixyClient _client = new(pixy.Channel);

    public void Dispose() => pixy.Server.WriteOutputTo(output, lastLines: 40);

    private static string Group() => "g" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Produce_Sync_AnswersPartitionAndOffset_Async_AnswersMinusOnes_KeysPlacedAsPixy()
    {
        var topic = PixyServer.NewTopic();
        var sync = await _client.ProduceAsync(new ProdRq { Topic = topic, KeyValue = ByteString.CopyFromUtf8("key-7"), Message = ByteString.CopyFromUtf8("m") });
        Assert.Equal(PixyServer.PixyPartition("key-7", 4), sync.Partition);
        Assert.Equal(0, sync.Offset);

        var again = await _client.ProduceAsync(new ProdRq { Topic = topic, KeyValue = ByteString.CopyFromUtf8("key-7"), Message = ByteString.CopyFromUtf8("m2") });
        Assert.Equal(sync.Partition, again.Partition);
        Assert.Equal(1, again.Offset);

        var async = await _client.ProduceAsync(new ProdRq { Topic = topic, KeyUndefined = true, Message = ByteString.CopyFromUtf8("a"), AsyncMode = true });
        Assert.Equal(-1, async.Partition);
        Assert.Equal(-1, async.Offset);

        // An empty key is a key (the hash of nothing), not "no key".
        var empty = await _client.ProduceAsync(new ProdRq { Topic = topic, Message = ByteString.CopyFromUtf8("e") });
        Assert.Equal(PixyServer.PixyPartition("", 4), empty.Partition);
    }

    [Fact]
    public async Task HeadersAndKeyUndefined_RoundTrip()
    {
        var topic = PixyServer.NewTopic();
        var group = Group();
        await Assert.ThrowsAsync<RpcException>(async () => await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, NoAck = true }));
        var request = new ProdRq { Topic = topic, KeyUndefined = true, Message = ByteString.CopyFromUtf8("no key") };
        request.Headers.Add(new RecordHeader { Key = "trace", Value = ByteString.CopyFromUtf8("t-9") });
        await _client.ProduceAsync(request);
        await _client.ProduceAsync(new ProdRq { Topic = topic, KeyValue = ByteString.CopyFromUtf8("k"), Message = ByteString.CopyFromUtf8("keyed") });

        var got = new List<ConsRs>();
        for (var i = 0; i < 2; i++)
        {
            got.Add(await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, AutoAck = true }));
        }

        var unkeyed = Assert.Single(got, m => m.Message.ToStringUtf8() == "no key");
        Assert.True(unkeyed.KeyUndefined);
        Assert.True(unkeyed.KeyValue.IsEmpty);
        var header = Assert.Single(unkeyed.Headers);
        Assert.Equal("trace", header.Key);
        Assert.Equal("t-9", header.Value.ToStringUtf8());
        var keyed = Assert.Single(got, m => m.Message.ToStringUtf8() == "keyed");
        Assert.False(keyed.KeyUndefined);
        Assert.Equal("k", keyed.KeyValue.ToStringUtf8());
    }

    [Fact]
    public async Task ConsumeNAck_NothingToConsume_IsNotFound_LongPollingTimeout()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = PixyServer.NewTopic(), Group = Group(), NoAck = true }));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("long polling timeout", error.Status.Detail);
    }

    [Fact]
    public async Task ExplicitAckLoop_AcksThePreviousMessage_AndOffsetsFollow()
    {
        var topic = PixyServer.NewTopic();
        var group = Group();
        await Assert.ThrowsAsync<RpcException>(async () => await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, NoAck = true }));
        for (var i = 0; i < 4; i++)
        {
            await _client.ProduceAsync(new ProdRq { Topic = topic, KeyValue = ByteString.CopyFromUtf8("one"), Message = ByteString.CopyFromUtf8("m" + i) });
        }

        var seen = new List<string>();
        var message = await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, NoAck = true });
        while (true)
        {
            seen.Add(message.Message.ToStringUtf8());
            try
            {
                message = await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, AckPartition = message.Partition, AckOffset = message.Offset });
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                await _client.AckAsync(new AckRq { Topic = topic, Group = group, Partition = message.Partition, Offset = message.Offset });
                break;
            }
        }

        Assert.Equal(["m0", "m1", "m2", "m3"], seen);
        var offsets = await _client.GetOffsetsAsync(new GetOffsetsRq { Topic = topic, Group = group });
        var row = Assert.Single(offsets.Offsets, o => o.Partition == PixyServer.PixyPartition("one", 4));
        Assert.Equal(4, row.Offset);
        Assert.Equal(0, row.Lag);
        Assert.Equal(4, row.End);
        Assert.Equal(4, row.Count);
    }

    [Fact]
    public async Task NoAck_BeatsAutoAck_AndSetOffsetsAppliesToALiveGroup()
    {
        var topic = PixyServer.NewTopic();
        var group = Group();
        await Assert.ThrowsAsync<RpcException>(async () => await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, NoAck = true }));
        var p = (await _client.ProduceAsync(new ProdRq { Topic = topic, KeyValue = ByteString.CopyFromUtf8("z"), Message = ByteString.CopyFromUtf8("only") })).Partition;
        var got = await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, NoAck = true, AutoAck = true });
        Assert.Equal("only", got.Message.ToStringUtf8());
        var offsets = await _client.GetOffsetsAsync(new GetOffsetsRq { Topic = topic, Group = group });
        Assert.Equal(0, offsets.Offsets.Single(o => o.Partition == p).Offset);   // not acked: no_ack won
        Assert.Equal(1, offsets.Offsets.Single(o => o.Partition == p).Lag);

        // Rewind the live group: the message comes again at once, though its first delivery is still unacked.
        var set = new SetOffsetsRq { Topic = topic, Group = group };
        set.Offsets.Add(new PartitionOffset { Partition = p, Offset = 0 });
        await _client.SetOffsetsAsync(set);
        var again = await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, AutoAck = true });
        Assert.Equal("only", again.Message.ToStringUtf8());
    }

    [Fact]
    public async Task BadArguments_AreInvalidArgument_WithPixysText()
    {
        var cluster = await Assert.ThrowsAsync<RpcException>(async () => await _client.ProduceAsync(new ProdRq { Cluster = "x", Topic = "t", Message = ByteString.CopyFromUtf8("m") }));
        Assert.Equal(StatusCode.InvalidArgument, cluster.StatusCode);
        Assert.Equal("proxy `x` does not exist", cluster.Status.Detail);

        var ack = await Assert.ThrowsAsync<RpcException>(async () => await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = PixyServer.NewTopic(), Group = Group(), AckPartition = -1, AckOffset = 0 }));
        Assert.Equal(StatusCode.InvalidArgument, ack.StatusCode);
        Assert.Equal("invalid ack: bad partition: -1", ack.Status.Detail);

        var offset = await Assert.ThrowsAsync<RpcException>(async () => await _client.AckAsync(new AckRq { Topic = PixyServer.NewTopic(), Group = Group(), Partition = 0, Offset = -5 }));
        Assert.Equal(StatusCode.InvalidArgument, offset.StatusCode);
        Assert.Equal("invalid ack: bad offset: -5", offset.Status.Detail);
    }

    [Fact]
    public async Task TopicMetadata_ListTopics_AndListConsumers_Answer_UnknownTopicIsNotFound()
    {
        var topic = PixyServer.NewTopic();
        await _client.ProduceAsync(new ProdRq { Topic = topic, Message = ByteString.CopyFromUtf8("m") });
        var meta = await _client.GetTopicMetadataAsync(new GetTopicMetadataRq { Topic = topic, WithPartitions = true });
        Assert.Equal(4, meta.Partitions.Count);
        Assert.Equal("delete", meta.Config["cleanup.policy"]);

        var list = await _client.ListTopicsAsync(new ListTopicRq { WithPartitions = false });
        Assert.True(list.Topics.ContainsKey(topic));
        Assert.Empty(list.Topics[topic].Partitions);

        var group = Group();
        await Assert.ThrowsAsync<RpcException>(async () => await _client.ConsumeNAckAsync(new ConsNAckRq { Topic = topic, Group = group, NoAck = true }));
        var consumers = await _client.ListConsumersAsync(new ListConsumersRq { Topic = topic, Group = group });
        Assert.Equal([0, 1, 2, 3], Assert.Single(consumers.Groups[group].Consumers).Value.Partitions);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await _client.GetTopicMetadataAsync(new GetTopicMetadataRq { Topic = PixyServer.NewTopic("missing") }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }
}
