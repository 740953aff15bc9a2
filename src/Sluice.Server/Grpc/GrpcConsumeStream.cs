using Grpc.Core;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Diagnostics;
using Sluice.Server.Grpc.V1;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;

namespace Sluice.Server.Grpc;

/// <summary>
/// One bidirectional <c>Consume</c> call. Two loops share the consumer:
/// <code>
///   requests ──► permits: credit += n ──► wakes the sender
///            ──► ack / nack ──► the engine ──► ack result on the stream
///   sender: while credit > 0: receive up to credit ──► write each message ──► credit -= sent
/// </code>
/// Writes go one at a time (gRPC allows one pending write). The client bounds what the server holds for it: at most
/// <see cref="MaxCredit"/> messages granted and not yet sent. When the call ends, whatever the stream holds unacked
/// is released for redelivery at once, as a WebSocket consumer's is.
/// </summary>
internal sealed class GrpcConsumeStream(ISubscriptionService subscriptions, ISubscriptionConsumer consumer, TopicName topic, string subscription)
{
    /// <summary>Permits granted and not yet used, at most: the bound on what a slow client makes the server hold.</summary>
    public const int MaxCredit = 10_000;

    // A receive waits this long, then loops: the wait ends early when messages arrive, permits matter only between waits.
    private static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(30);

    // A message's bytes on the wire beyond its payload, near enough for the flush threshold: the serializer sizes each
    // message itself, and asking the message for its size here too would walk every message twice.
    private const int MessageOverheadBytes = 64;

    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _creditChanged = new(0, int.MaxValue);
    private int _credit;

    public async Task RunAsync(int permits, IAsyncStreamReader<ConsumeRequest> requests, IServerStreamWriter<ConsumeResponse> responses, CancellationToken cancellationToken)
    {
        AddCredit(permits);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, consumer.Ended);
        var reader = ReadAsync(requests, responses, stop);
        try
        {
            await SendAsync(responses, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client completed its requests, went away, or the engine ended the consumer.
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await reader;
            }
            finally
            {
                await consumer.ReleaseInFlightAsync(CancellationToken.None);
            }
        }
    }

    private async Task SendAsync(IServerStreamWriter<ConsumeResponse> responses, CancellationToken cancellationToken)
    {
        while (true)
        {
            var credit = Volatile.Read(ref _credit);
            if (credit == 0)
            {
                await _creditChanged.WaitAsync(cancellationToken);
                continue;
            }

            var deliveries = await consumer.ReceiveAsync(Math.Min(credit, 1000), ReceiveWait, cancellationToken);
            if (deliveries.Count == 0)
            {
                continue;
            }

            MessageTracing.Received(topic, subscription, deliveries);
            Interlocked.Add(ref _credit, -deliveries.Count);
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                // The batch's messages go to the connection together: a write is only buffered (a write flushes the
                // response by default, one HTTP/2 DATA frame and one send per message) until the batch's last message or
                // until ResponseFlush.ThresholdBytes are buffered. A flush waits while the client is behind, so that bounds what a
                // slow client's stream holds, whatever the batch and the size of its messages.
                var buffered = 0L;
                for (var i = 0; i < deliveries.Count; i++)
                {
                    buffered += MessageOverheadBytes + deliveries[i].Record.PayloadBytes();
                    var flush = i == deliveries.Count - 1 || buffered >= ResponseFlush.ThresholdBytes;
                    responses.WriteOptions = flush ? null : Buffered;
                    await responses.WriteAsync(new ConsumeResponse { Message = GrpcMessages.Received(deliveries[i]) }, cancellationToken);
                    if (flush)
                    {
                        buffered = 0;
                    }
                }
            }
            finally
            {
                // An answer written later (an ack's) flushes, whatever ended this batch.
                responses.WriteOptions = null;
                _writeLock.Release();
            }

        }
    }

    // Permits, acks and nacks from the client; its end of the requests (or an error) ends the call.
    private async Task ReadAsync(IAsyncStreamReader<ConsumeRequest> requests, IServerStreamWriter<ConsumeResponse> responses, CancellationTokenSource stop)
    {
        try
        {
            while (await requests.MoveNext(stop.Token))
            {
                var request = requests.Current;
                switch (request.KindCase)
                {
                    case ConsumeRequest.KindOneofCase.Permits:
                        AddCredit(request.Permits);
                        break;
                    case ConsumeRequest.KindOneofCase.Ack:
                        await AnswerAsync(responses, await subscriptions.AckAsync(topic, subscription, [.. request.Ack.AckIds], stop.Token), stop.Token);
                        break;
                    case ConsumeRequest.KindOneofCase.Nack:
                        var delay = SluiceGrpcService.Delay(request.Nack.DelayMs);
                        await AnswerAsync(responses, await subscriptions.NackAsync(topic, subscription, [.. request.Nack.AckIds], delay, stop.Token), stop.Token);
                        break;
                    default:
                        throw new ProblemException(ProblemKind.InvalidParameter, "after subscribe, a Consume stream takes permits, ack and nack only");
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        finally
        {
            await stop.CancelAsync();
        }
    }

    private async Task AnswerAsync(IServerStreamWriter<ConsumeResponse> responses, AckResult result, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await responses.WriteAsync(new ConsumeResponse { AckResult = GrpcMessages.Settled(result) }, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void AddCredit(int permits)
    {
        if (permits < 0 || permits > MaxCredit)
        {
            throw new ProblemException(ProblemKind.InvalidParameter, $"permits must be between 0 and {MaxCredit}; got {permits}");
        }

        int current, next;
        do
        {
            current = Volatile.Read(ref _credit);
            next = Math.Min(MaxCredit, current + permits);
        }
        while (Interlocked.CompareExchange(ref _credit, next, current) != current);
        _creditChanged.Release();
    }
}
