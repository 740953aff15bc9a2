using Google.Protobuf;
using Sluice.Core.Subscriptions;
using Sluice.Server.Grpc.V1;

namespace Sluice.Server.Grpc;

/// <summary>Conversions between the core's types and Sluice's v1 gRPC messages.</summary>
internal static class GrpcMessages
{
    public static ReceivedMessage Received(Delivery d)
    {
        var record = d.Record;
        var message = new ReceivedMessage
        {
            AckId = d.AckId,
            Id = d.MessageId,
            Partition = d.Partition,
            Offset = record.Offset,
            PublishTimeMs = record.Timestamp.ToUnixTimeMilliseconds(),
            DeliveryAttempt = d.DeliveryAttempt,
        };
        if (record.Key is { } key)
        {
            message.Key = ByteString.CopyFrom(key.Span);
        }

        if (record.Value is { } value)
        {
            message.Value = ByteString.CopyFrom(value.Span);
        }

        foreach (var (name, text) in record.Headers)
        {
            message.Headers[name] = text;
        }

        return message;
    }

    public static AckResponse Settled(AckResult result)
    {
        var answer = new AckResponse { Succeeded = result.Succeeded };
        answer.Unknown.Add(result.Unknown);
        answer.Expired.Add(result.Expired);
        return answer;
    }
}
