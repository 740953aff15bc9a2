using Grpc.Core;
using Microsoft.Extensions.Options;
using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Grpc.V1;
using Sluice.Server.Problems;
using Sluice.Server.Security;
using Sluice.Server.Topics;
using DeliveryTime = Sluice.Server.Produce.DeliveryTime;
using PendingAppends = Sluice.Server.Produce.PendingAppends;
using ProduceEndpoints = Sluice.Server.Produce.ProduceEndpoints;
using SubscriptionDirectory = Sluice.Server.Subscriptions.SubscriptionDirectory;
using SubscriptionEndpoints = Sluice.Server.Subscriptions.SubscriptionEndpoints;

namespace Sluice.Server.Grpc;

/// <summary>
/// Sluice's own gRPC API (<c>sluice.v1.Sluice</c>): produce (unary and a client-streamed batch), pull, ack, nack and a
/// bidirectional consume with permits; the same topics, subscriptions and guarantees as the HTTP API, through the same
/// core calls. Errors carry the HTTP API's problem type (<see cref="GrpcErrors"/>). A produce with <c>deliver_at_ms</c> or
/// <c>deliver_after_ms</c> in the future is a delayed message (<see cref="IDelayService"/>), cancelled with <c>CancelDelayed</c>.
/// </summary>
internal sealed partial class SluiceGrpcService(
    IMessageLog log,
    ISubscriptionService subscriptions,
    TopicDirectory topics,
    SubscriptionDirectory directory,
    Sluice.Core.Log.Partitioner partitioner,
    PendingAppends pending,
    SluiceMetrics metrics,
    IDelayService delays,
    TimeProvider time,
    IOptions<ServerOptions> options,
    ILogger<SluiceGrpcService> logger) : V1.Sluice.SluiceBase
{
    /// <summary>The most records one streamed batch may hold, as the HTTP batch route.</summary>
    public const int MaxBatchRecords = 10_000;

    private readonly ServerOptions _options = options.Value;

    public override async Task<ProduceResponse> Produce(ProduceRequest request, ServerCallContext context)
    {
        try
        {
            var topic = Topic(context, request.Topic, Permission.Produce);
            var record = Record(request, 0);
            var due = DeliverAt(request, time.GetUtcNow(), "");
            var count = await topics.GetPartitionCountAsync(topic, create: true, context.CancellationToken);
            var partition = Partition(topic, request, count);
            if (request.Async)
            {
                pending.Enter();
                _ = AppendInBackgroundAsync(topic, partition, record, due);
                return new ProduceResponse { Id = $"{partition}:-1", Partition = partition, Offset = -1, DeliverAtMs = due?.ToUnixTimeMilliseconds() ?? 0 };
            }

            if (due is { } at)
            {
                var held = await AppendDelayedAsync(topic, partition, [new DelayedRecord(record, at)]);
                return Delayed(held.Ids[0], partition, at);
            }

            var result = await AppendAsync(topic, partition, [record]);
            metrics.Produced.Add(topic, 1);
            return Answer(partition, result.BaseOffset, result.Timestamp);
        }
        catch (Exception ex)
        {
            throw GrpcErrors.From(ex);
        }
    }

    public override async Task<ProduceBatchResponse> ProduceBatch(IAsyncStreamReader<ProduceRequest> requestStream, ServerCallContext context)
    {
        try
        {
            // Read and check everything first: a batch is all or nothing.
            var requests = new List<ProduceRequest>();
            var records = new List<RecordToAppend>();
            var due = new List<DateTimeOffset?>();
            var now = time.GetUtcNow();
            long bytes = 0;
            TopicName? topic = null;
            while (await requestStream.MoveNext(context.CancellationToken))
            {
                var request = requestStream.Current;
                var t = Topic(context, request.Topic, Permission.Produce);
                if (topic is { } first && first != t)
                {
                    throw new ProblemException(ProblemKind.InvalidParameter, $"message {requests.Count}: a batch goes to one topic; it began with '{first}', this one names '{t}'");
                }

                topic = t;
                if (requests.Count == MaxBatchRecords)
                {
                    throw new ProblemException(ProblemKind.InvalidParameter, $"the batch holds more than {MaxBatchRecords} messages");
                }

                bytes += request.CalculateSize();
                if (bytes > _options.MaxBatchBytes)
                {
                    throw new ProblemException(ProblemKind.MessageTooLarge, $"the batch is larger than maxBatchBytes ({_options.MaxBatchBytes})");
                }

                records.Add(Record(request, requests.Count));
                due.Add(DeliverAt(request, now, $"message {requests.Count}: "));
                requests.Add(request);
            }

            if (topic is not { } target)
            {
                throw new ProblemException(ProblemKind.InvalidParameter, "the batch holds no messages; stream at least one ProduceRequest");
            }

            var count = await topics.GetPartitionCountAsync(target, create: true, context.CancellationToken);
            var partitions = new int[records.Count];
            int? sticky = null;
            for (var i = 0; i < records.Count; i++)
            {
                // As the HTTP batch: the keyless messages of one batch share a partition, so it costs one append.
                partitions[i] = requests[i].HasPartition || requests[i].HasKey ? Partition(target, requests[i], count) : sticky ??= Partition(target, requests[i], count);
            }

            // One append per partition, and one per holding partition for its delayed messages, in stream order within each.
            var groups = Enumerable.Range(0, records.Count).GroupBy(i => (Partition: partitions[i], Delayed: due[i] is not null)).ToList();
            var ordinary = groups.Select(g => g.Key.Delayed ? null : AppendAsync(target, g.Key.Partition, [.. g.Select(i => records[i])]).AsTask()).ToList();
            var held = groups.Select(g => g.Key.Delayed ? AppendDelayedAsync(target, g.Key.Partition, [.. g.Select(i => new DelayedRecord(records[i], due[i]!.Value))]).AsTask() : null).ToList();

            // The appends hold what they still need: the messages (values included) need not live through the fsync
            // in this method's state machine (ProduceEndpoints.AppendAsync).
            var total = records.Count;
            records.Clear();
            requests.Clear();
            await Task.WhenAll(ordinary.Concat<Task?>(held).OfType<Task>());
            var answer = new ProduceResponse[total];
            for (var g = 0; g < groups.Count; g++)
            {
                var n = 0;
                foreach (var i in groups[g])
                {
                    answer[i] = groups[g].Key.Delayed
                        ? Delayed(held[g]!.Result.Ids[n++], groups[g].Key.Partition, due[i]!.Value)
                        : Answer(groups[g].Key.Partition, ordinary[g]!.Result.BaseOffset + n++, ordinary[g]!.Result.Timestamp);
                }
            }

            // Delayed messages count when they are delivered (sluice.delay.fired), as on the HTTP API.
            metrics.Produced.Add(target, due.Count(d => d is null));
            var response = new ProduceBatchResponse();
            response.Results.Add(answer);
            return response;
        }
        catch (Exception ex)
        {
            throw GrpcErrors.From(ex);
        }
    }

    public override async Task<CancelDelayedResponse> CancelDelayed(CancelDelayedRequest request, ServerCallContext context)
    {
        try
        {
            var topic = Topic(context, request.Topic, Permission.Produce);

            // Once the cancel is requested it is durable: wait for the decision even if the client leaves.
            if (await delays.CancelAsync(topic, request.Id, CancellationToken.None) == CancelOutcome.NotCancellable)
            {
                throw new ProblemException(ProblemKind.NotCancellable,
                    $"delayed message '{ProblemWriter.Printable(request.Id, 80)}' of '{topic}' is not pending: already delivered, already cancelled, or unknown");
            }

            return new CancelDelayedResponse();
        }
        catch (Exception ex)
        {
            throw GrpcErrors.From(ex);
        }
    }

    public override async Task<PullResponse> Pull(PullRequest request, ServerCallContext context)
    {
        try
        {
            var topic = Topic(context, request.Topic, Permission.Consume);
            var name = Subscription(request.Subscription);
            var max = request.Max == 0 ? 100 : request.Max;
            if (max is < 1 or > 1000 || request.WaitMs is < 0 or > 60_000)
            {
                throw new ProblemException(ProblemKind.InvalidParameter, $"max must be between 1 and 1000 (got {max}) and wait_ms between 0 and 60000 (got {request.WaitMs})");
            }

            var consumerId = request.ConsumerId.Length == 0 ? SubscriptionEndpoints.AnonymousConsumer : ConsumerId(request.ConsumerId);
            await topics.GetPartitionCountAsync(topic, create: true, context.CancellationToken);
            await directory.EnsureAsync(topic, name, context.CancellationToken);
            IReadOnlyList<Delivery> deliveries;
            await using (var consumer = await subscriptions.OpenConsumerAsync(topic, name, consumerId, context.CancellationToken))
            {
                deliveries = await consumer.ReceiveAsync(max, TimeSpan.FromMilliseconds(request.WaitMs), context.CancellationToken);
            }

            MessageTracing.Received(topic, name, deliveries);
            var response = new PullResponse();
            response.Messages.Add(deliveries.Select(GrpcMessages.Received));
            return response;
        }
        catch (Exception ex)
        {
            throw GrpcErrors.From(ex);
        }
    }

    public override async Task<AckResponse> Ack(AckRequest request, ServerCallContext context)
    {
        try
        {
            var topic = Topic(context, request.Topic, Permission.Consume);
            var result = await subscriptions.AckAsync(topic, Subscription(request.Subscription), [.. request.AckIds], context.CancellationToken);
            return GrpcMessages.Settled(result);
        }
        catch (Exception ex)
        {
            throw GrpcErrors.From(ex);
        }
    }

    public override async Task<AckResponse> Nack(NackRequest request, ServerCallContext context)
    {
        try
        {
            var topic = Topic(context, request.Topic, Permission.Consume);
            var result = await subscriptions.NackAsync(topic, Subscription(request.Subscription), [.. request.AckIds], Delay(request.DelayMs), context.CancellationToken);
            return GrpcMessages.Settled(result);
        }
        catch (Exception ex)
        {
            throw GrpcErrors.From(ex);
        }
    }

    public override async Task Consume(IAsyncStreamReader<ConsumeRequest> requestStream, IServerStreamWriter<ConsumeResponse> responseStream, ServerCallContext context)
    {
        try
        {
            if (!await requestStream.MoveNext(context.CancellationToken) || requestStream.Current.KindCase != ConsumeRequest.KindOneofCase.Subscribe)
            {
                throw new ProblemException(ProblemKind.InvalidParameter, "the first request of a Consume stream must be subscribe");
            }

            var subscribe = requestStream.Current.Subscribe;
            var topic = Topic(context, subscribe.Topic, Permission.Consume);
            var name = Subscription(subscribe.Subscription);
            var consumerId = subscribe.ConsumerId.Length == 0 ? "grpc-" + Guid.NewGuid().ToString("N")[..24] : ConsumerId(subscribe.ConsumerId);
            await topics.GetPartitionCountAsync(topic, create: true, context.CancellationToken);
            await directory.EnsureAsync(topic, name, context.CancellationToken);
            await using var consumer = await subscriptions.OpenConsumerAsync(topic, name, consumerId, context.CancellationToken);
            var stream = new GrpcConsumeStream(subscriptions, consumer, topic, name);
            await stream.RunAsync(subscribe.Permits, requestStream, responseStream, context.CancellationToken);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception ex)
        {
            if (ProblemMiddleware.Map(ex).Kind == ProblemKind.Internal)
            {
                Log.StreamFailed(logger, ex);
            }

            throw GrpcErrors.From(ex);
        }
    }

    private static TopicName Topic(ServerCallContext context, string name, Permission permission)
    {
        var topic = TopicName.Parse(name);
        if (topic.IsInternal)
        {
            throw new InvalidNameException($"topic '{topic}' is internal (tenants starting with '{TopicName.InternalTenantPrefix}' are Sluice's own)");
        }

        Access.Require(context.GetHttpContext(), topic, permission);
        return topic;
    }

    private static string Subscription(string name)
    {
        TopicName.ThrowIfInvalidPart(name, "subscription");
        return name;
    }

    private static string ConsumerId(string id) => Streaming.StreamRequest.IsValidConsumerId(id)
        ? id
        : throw new ProblemException(ProblemKind.InvalidParameter, "consumer_id must be 1 to 255 printable ASCII characters");

    internal static TimeSpan Delay(int delayMs) => delayMs is >= 0 and <= 86_400_000
        ? TimeSpan.FromMilliseconds(delayMs)
        : throw new ProblemException(ProblemKind.InvalidParameter, $"delay_ms must be between 0 and 86400000; got {delayMs}");

    private RecordToAppend Record(ProduceRequest request, int index)
    {
        if (request.Value.Length > _options.MaxMessageBytes)
        {
            throw new ProblemException(ProblemKind.MessageTooLarge, $"message {index}: the value is {request.Value.Length} bytes; the most is {_options.MaxMessageBytes} (maxMessageBytes)");
        }

        List<KeyValuePair<string, string>>? headers = null;
        foreach (var (name, value) in request.Headers)
        {
            if (name.Length == 0 || name.Any(char.IsControl) || value.Any(c => char.IsControl(c) && c != '\t'))
            {
                throw new ProblemException(ProblemKind.InvalidParameter, $"message {index}: header names must be non-empty and names and values free of control characters");
            }

            (headers ??= []).Add(KeyValuePair.Create(name, value));
        }

        return new RecordToAppend(request.HasKey ? request.Key.Memory : null, request.Value.Memory, headers);
    }

    // A time not after now is an ordinary produce (null).
    private static DateTimeOffset? DeliverAt(ProduceRequest request, DateTimeOffset now, string where)
        => DeliveryTime.FromMilliseconds(request.HasDeliverAtMs ? request.DeliverAtMs : null, request.HasDeliverAfterMs ? request.DeliverAfterMs : null, now, where) is { } due && due > now
            ? due
            : null;

    private int Partition(TopicName topic, ProduceRequest request, int count)
    {
        if (request.HasPartition)
        {
            return request.Partition >= 0 && request.Partition < count ? request.Partition : throw new PartitionNotFoundException(topic, request.Partition, count);
        }

        return request.HasKey ? Sluice.Core.Log.Partitioner.ForKey(request.Key.Span, count) : partitioner.Choose(default, hasKey: false, count);
    }

    // Once started, finish it even if the client leaves: it may already be written.
    private ValueTask<AppendResult> AppendAsync(TopicName topic, int partition, RecordToAppend[] records)
        => ProduceEndpoints.AppendAsync(log, topics, topic, partition, records, CancellationToken.None);

    private ValueTask<DelayedAppendResult> AppendDelayedAsync(TopicName topic, int partition, DelayedRecord[] records)
        => ProduceEndpoints.AppendDelayedAsync(delays, topics, topic, partition, records, CancellationToken.None);

    private async Task AppendInBackgroundAsync(TopicName topic, int partition, RecordToAppend record, DateTimeOffset? due)
    {
        try
        {
            if (due is { } at)
            {
                await AppendDelayedAsync(topic, partition, [new DelayedRecord(record, at)]);
                return;
            }

            await AppendAsync(topic, partition, [record]);
            metrics.Produced.Add(topic, 1);
        }
        catch (Exception ex)
        {
            Log.AsyncProduceFailed(logger, topic.ToString(), partition, ex);
        }
        finally
        {
            pending.Exit();
        }
    }

    private static ProduceResponse Answer(int partition, long offset, DateTimeOffset timestamp)
        => new() { Id = $"{partition}:{offset}", Partition = partition, Offset = offset, TimestampMs = timestamp.ToUnixTimeMilliseconds() };

    private static ProduceResponse Delayed(string id, int partition, DateTimeOffset deliverAt)
        => new() { Id = id, Partition = partition, Offset = -1, DeliverAtMs = deliverAt.ToUnixTimeMilliseconds() };

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.GrpcStreamFailed, Level = LogLevel.Error, Message = "A gRPC consume stream failed")]
        public static partial void StreamFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = LogEvents.GrpcAsyncProduceFailed, Level = LogLevel.Error, Message = "A gRPC async produce to {Topic} partition {Partition} failed after it was answered")]
        public static partial void AsyncProduceFailed(ILogger logger, string topic, int partition, Exception exception);
    }
}
