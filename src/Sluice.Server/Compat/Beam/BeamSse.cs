using Sluice.Core.Subscriptions;
using Sluice.Server.Hosting;
using Sluice.Server.Streaming;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// <c>GET /v2/sse/{persistent}/{tenant}/{namespace}/{topic}</c>: the subscription as Server-Sent Events,
/// <c>id: {partition}:{offset}</c> and <c>data: {payload}</c> per message, the payload raw (one <c>data:</c> line per line
/// of it, which EventSource joins back with newlines).
/// <code>
///   ReceiveAsync(100, keep-alive) ──► nothing: ": keep-alive" ──► flush
///                                 └─► events (flush every 32 KiB and at the end) ──► flushed: acked
///   end (client gone, shutdown, taken over) ──► received but not flushed: released at once
///   slow client (flush blocked past slowConsumerTimeoutMs) ──► cut, everything it held released
/// </code>
/// Beam acked each message before writing it, so what a client did not get when it went away was lost. Here a message
/// counts as delivered once written and flushed to the connection, as with Sluice's own SSE <c>ack=auto</c>: a message
/// flushed into the socket of a client that has just left, before the server saw it leave, is not sent again.
/// </summary>
internal static class BeamSse
{
    /// <summary>Deliveries per receive: enough to amortise flushes, few enough that a slow client holds little.</summary>
    private const int MaxBatch = 100;

    public static async Task StreamAsync(HttpContext context, BeamServices beam)
    {
        var request = await BeamConsumerRequest.ParseAsync(context, beam);
        await request.EnsureAsync(beam, context.RequestAborted);
        var lease = await beam.Streams.EnterAsync(request.Topic, request.Subscription, request.ConsumerId, context.RequestAborted);
        try
        {
            await using var consumer = await beam.Subscriptions.OpenConsumerAsync(request.Topic, request.Subscription, request.ConsumerId, context.RequestAborted);
            await new Connection(context, beam, request, consumer).RunAsync(lease.Ending);
        }
        finally
        {
            lease.Dispose();
            await request.EndAsync(beam);
        }
    }

    /// <summary>One connection's loop and the deliveries it has not flushed yet.</summary>
    private sealed class Connection(HttpContext context, BeamServices beam, BeamConsumerRequest request, ISubscriptionConsumer consumer)
    {
        private readonly List<Delivery> _unflushed = new(MaxBatch);

        public async Task RunAsync(CancellationToken takenOver)
        {
            var options = beam.Options;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, beam.Stopping, consumer.Ended, takenOver);
            var token = linked.Token;
            var writer = new SseWriter(context, TimeSpan.FromMilliseconds(options.SlowConsumerTimeoutMs), beam.Time);
            var keepAlive = TimeSpan.FromMilliseconds(options.SseKeepAliveMs);
            var slow = false;

            // New messages are held, not leased: acked once flushed, returned by the handle if never flushed.
            consumer.HoldNewMessages();
            try
            {
                SseWriter.StartResponse(context);
                await writer.FlushAsync();
                while (!token.IsCancellationRequested)
                {
                    // Ended (cancelled, or the consumer ended) while waiting: the OperationCanceledException ends the stream below.
                    var batch = await consumer.ReceiveAsync(MaxBatch, keepAlive, token);
                    if (batch.Count == 0)
                    {
                        await writer.KeepAliveAsync();
                        continue;
                    }

                    _unflushed.AddRange(batch);
                    var confirmed = 0;
                    for (var i = 0; i < batch.Count; i++)
                    {
                        WriteEvent(writer, batch[i]);
                        if (writer.Unflushed >= ResponseFlush.ThresholdBytes && i < batch.Count - 1)
                        {
                            await ConfirmAsync(writer, i + 1 - confirmed);
                            confirmed = i + 1;
                        }
                    }

                    await ConfirmAsync(writer, _unflushed.Count);
                }
            }
            catch (SlowConsumerException)
            {
                slow = true;
                beam.StreamingMetrics.SlowConsumers.Add(1);
                StreamingLog.SlowConsumerClosed(beam.Logger, "Beam SSE", request.Topic.ToString(), request.Subscription, consumer.ConsumerId, options.SlowConsumerTimeoutMs);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException || context.RequestAborted.IsCancellationRequested)
            {
                // The client went away mid-write.
            }
            finally
            {
                await ReleaseAsync(slow);
            }
        }

        /// <summary>Flushes, then acks the first <paramref name="count"/> deliveries not flushed before: written and flushed is delivered.</summary>
        private async ValueTask ConfirmAsync(SseWriter writer, int count)
        {
            await writer.FlushAsync();
            var done = count == _unflushed.Count ? [.. _unflushed] : _unflushed.GetRange(0, count);
            _unflushed.RemoveRange(0, count);

            // Applied now; durable with the next cursor write (within 200 ms), shared by every stream.
            _ = await consumer.AckAsync(done, waitDurable: false, CancellationToken.None);
        }

        private async ValueTask ReleaseAsync(bool slow)
        {
            try
            {
                if (slow)
                {
                    // The client stopped reading: cut it and give everything it held to other consumers now.
                    context.Abort();
                    await consumer.ReleaseInFlightAsync(CancellationToken.None);
                }
                else if (_unflushed.Count > 0)
                {
                    // Received but not known to have reached the client: redeliver at once.
                    await consumer.ReturnAsync(_unflushed, CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is SubscriptionNotFoundException or ObjectDisposedException or OperationCanceledException)
            {
                // Deleted subscription or engine shutting down: nothing left to release.
            }
        }
    }

    /// <summary>One event: <c>id: p:o</c>, then each line of the payload as a <c>data:</c> line.</summary>
    internal static void WriteEvent(SseWriter writer, Delivery delivery)
    {
        Write(writer, "id: "u8);
        var id = writer.GetSpan(32);
        _ = delivery.Partition.TryFormat(id, out var n);
        id[n++] = (byte)':';
        _ = delivery.Record.Offset.TryFormat(id[n..], out var m);
        writer.Advance(n + m);
        Write(writer, "\n"u8);

        var payload = delivery.Record.Value is { } value ? value.Span : default;
        do
        {
            // Any of CR, LF, CRLF ends a line in SSE: each line of the payload gets its own data field.
            var end = payload.IndexOfAny((byte)'\r', (byte)'\n');
            var line = end < 0 ? payload : payload[..end];
            Write(writer, "data: "u8);
            Write(writer, line);
            Write(writer, "\n"u8);
            if (end < 0)
            {
                break;
            }

            payload = payload[(end + (payload[end] == '\r' && end + 1 < payload.Length && payload[end + 1] == '\n' ? 2 : 1))..];
        }
        while (true);

        Write(writer, "\n"u8);
    }

    private static void Write(SseWriter writer, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }
}
