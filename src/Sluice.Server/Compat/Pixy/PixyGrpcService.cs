using Google.Protobuf;
using Grpc.Core;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Compat.Pixy.Protocol;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Pixy;

/// <summary>
/// Kafka-Pixy's gRPC service (<c>/KafkaPixy/*</c>), translated onto <see cref="PixyGateway"/> with Pixy's status codes.
/// Activated per call with the services of the call's <c>cluster</c> (<see cref="Grpc.ClusterInterceptor"/>), so the
/// gateway is that cluster's.
/// </summary>
internal sealed class PixyGrpcService(PixyGateway gateway) : KafkaPixy.KafkaPixyBase
{
    public override Task<ProdRs> Produce(ProdRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Produce);
        var headers = PixyGateway.Headers(request.Headers.Where(h => h is not null).Select(h => (h.Key, h.Value.ToByteArray())));
        var (partition, offset) = await gateway.ProduceAsync(
            topic, request.KeyUndefined ? null : request.KeyValue.ToByteArray(), request.Message.ToByteArray(), headers, request.AsyncMode, context.CancellationToken);
        return new ProdRs { Partition = partition, Offset = offset };
    }, produce: true);

    public override Task<ConsRs> ConsumeNAck(ConsNAckRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Consume);
        PixyAck ack;
        if (request.NoAck)
        {
            ack = PixyAck.None;
        }
        else if (request.AutoAck)
        {
            ack = PixyAck.Auto;
        }
        else
        {
            ack = new PixyAck(PixyAckMode.Explicit, request.AckPartition, request.AckOffset);
            CheckAck(request.AckPartition, request.AckOffset);
        }

        var delivery = await gateway.ConsumeAsync(topic, request.Group, ack, context.CancellationToken);
        var record = delivery.Record;
        var answer = new ConsRs
        {
            Partition = delivery.Partition,
            Offset = record.Offset,
            Message = record.Value is { } v ? ByteString.CopyFrom(v.Span) : ByteString.Empty,
        };
        if (record.Key is { } key)
        {
            answer.KeyValue = ByteString.CopyFrom(key.Span);
        }
        else
        {
            answer.KeyUndefined = true;
        }

        foreach (var (name, text) in record.Headers)
        {
            answer.Headers.Add(new RecordHeader { Key = name, Value = ByteString.CopyFromUtf8(text) });
        }

        return answer;
    }, produce: false);

    public override Task<AckRs> Ack(AckRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Consume);
        CheckAck(request.Partition, request.Offset);
        await gateway.AckAsync(topic, request.Group, request.Partition, request.Offset, context.CancellationToken);
        return new AckRs();
    }, produce: false);

    public override Task<GetOffsetsRs> GetOffsets(GetOffsetsRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Consume);
        var answer = new GetOffsetsRs();
        foreach (var row in await gateway.GetOffsetsAsync(topic, request.Group, context.CancellationToken))
        {
            answer.Offsets.Add(new PartitionOffset
            {
                Partition = row.Partition,
                Begin = row.Begin,
                End = row.End,
                Count = row.Count,
                Offset = row.Offset,
                Lag = row.Lag,
            });
        }

        return answer;
    }, produce: false);

    public override Task<SetOffsetsRs> SetOffsets(SetOffsetsRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Consume);
        await gateway.SetOffsetsAsync(topic, request.Group, [.. request.Offsets.Select(o => (o.Partition, o.Offset))], context.CancellationToken);
        return new SetOffsetsRs();
    }, produce: false);

    public override Task<ListTopicRs> ListTopics(ListTopicRq request, ServerCallContext context) => Run(async () =>
    {
        var http = context.GetHttpContext();
        var answer = new ListTopicRs();
        foreach (var (name, info) in await gateway.ListTopicsAsync(context.CancellationToken))
        {
            if (Access.Can(http, info.Name, Permission.Produce | Permission.Consume))
            {
                answer.Topics[name] = Metadata(info, request.WithPartitions);
            }
        }

        return answer;
    }, produce: false);

    public override Task<ListConsumersRs> ListConsumers(ListConsumersRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Consume);
        var answer = new ListConsumersRs();
        var groups = await gateway.ListConsumersAsync(topic, request.Group.Length == 0 ? null : request.Group, context.CancellationToken);
        foreach (var (group, members) in groups)
        {
            var consumers = new ConsumerGroups();
            foreach (var (member, partitions) in members)
            {
                var p = new ConsumerPartitions();
                p.Partitions.Add(partitions);
                consumers.Consumers[member] = p;
            }

            answer.Groups[group] = consumers;
        }

        return answer;
    }, produce: false);

    public override Task<GetTopicMetadataRs> GetTopicMetadata(GetTopicMetadataRq request, ServerCallContext context) => Run(async () =>
    {
        var topic = Topic(context, request.Topic, Permission.Produce | Permission.Consume);
        return Metadata(await gateway.GetTopicAsync(topic, context.CancellationToken), request.WithPartitions);
    }, produce: false);

    private static GetTopicMetadataRs Metadata(TopicInfo info, bool withPartitions)
    {
        var answer = new GetTopicMetadataRs { Version = PixyTopicConfig.Version };
        foreach (var (key, value) in PixyTopicConfig.Of(info))
        {
            answer.Config[key] = value;
        }

        if (withPartitions)
        {
            foreach (var p in info.Partitions)
            {
                var m = new PartitionMetadata { Partition = p.Partition, Leader = PixyTopicConfig.Leader };
                m.Replicas.Add(PixyTopicConfig.Leader);
                m.Isr.Add(PixyTopicConfig.Leader);
                answer.Partitions.Add(m);
            }
        }

        return answer;
    }

    // Pixy's NewAck: "invalid ack: bad partition: -1".
    private static void CheckAck(int partition, long offset)
    {
        if (partition < 0)
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"invalid ack: bad partition: {partition}");
        }

        if (offset < 0)
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"invalid ack: bad offset: {offset}");
        }
    }

    private static TopicName Topic(ServerCallContext context, string name, Permission permission)
    {
        var topic = PixyTopics.Map(name);
        if (!Access.Can(context.GetHttpContext(), topic, permission))
        {
            throw new PixyException(PixyErrorKind.Forbidden, Access.Denied(topic.Tenant, topic.Namespace, permission));
        }

        return topic;
    }

    // Pixy's codes: an unknown topic is INVALID_ARGUMENT on produce and NOT_FOUND elsewhere; a timeout is NOT_FOUND.
    private static async Task<T> Run<T>(Func<Task<T>> call, bool produce)
    {
        try
        {
            return await call();
        }
        catch (PixyException ex)
        {
            throw new RpcException(new Status(Code(ex.Kind, produce), ex.Message));
        }
        catch (InvalidNameException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        catch (SubscriptionBusyException ex)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, ex.Message));
        }
        catch (Exception ex) when (ex is TopicNotFoundException or PartitionNotFoundException)
        {
            throw new RpcException(new Status(produce ? StatusCode.InvalidArgument : StatusCode.NotFound, PixyException.UnknownTopicText));
        }
        catch (OperationCanceledException)
        {
            throw new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
        }
    }

    private static StatusCode Code(PixyErrorKind kind, bool produce) => kind switch
    {
        PixyErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        PixyErrorKind.UnknownTopic => produce ? StatusCode.InvalidArgument : StatusCode.NotFound,
        PixyErrorKind.LongPollingTimeout => StatusCode.NotFound,
        PixyErrorKind.Unavailable => StatusCode.Unavailable,
        PixyErrorKind.Forbidden => StatusCode.PermissionDenied,
        _ => StatusCode.Internal,
    };
}
