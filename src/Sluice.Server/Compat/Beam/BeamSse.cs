using Sluice.Core.Subscriptions;
using Sluice.Server.Streaming;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// <c>GET /v2/sse/{persistent}/{tenant}/{namespace}/{topic}</c>: the subscription as Server-Sent Events,
/// <c>id: {partition}:{offset}</c> and <c>data: {payload}</c> per message, the payload raw (one <c>data:</c> line per line
/// of it, which EventSource joins back with newlines).
/// <code>
///   ReceiveAsync(100) ──► events ──► flush ──► connection still open ConfirmWindow later ──► acked
///                     └─► nothing for a keep-alive period ──► ": keep-alive" ──► flush
///   end (client gone, shutdown, taken over) ──► received, flushed or not, and not yet acked: released at once
///   slow client (flush blocked past slowConsumerTimeoutMs) ──► cut, everything it held released
/// </code>
/// Beam acked each message before writing it, so a client that went away lost what was in flight. Here a message is
/// acked once written, flushed, and the connection has stayed open a moment after: a flush also succeeds into the socket
/// buffers of a client that has just closed the connection, until its close arrives. A client that reads a message and
/// leaves within that moment gets it again (at-least-once).
/// </summary>
internal static class BeamSse
{
    /// <summary>Deliveries per receive: enough to amortise flushes, few enough that a slow client holds little.</summary>
    private const int MaxBatch = 100;

    /// <summary>
    /// How long flushed messages wait for the connection to prove it is still there before they are acked: the FIN or
    /// RST of a closed connection arrives within milliseconds; 2 s leaves room for a loaded machine.
    /// </summary>
    private static readonly TimeSpan ConfirmWindow = TimeSpan.FromSeconds(2);

    public static async Task StreamAsync(HttpContext context, BeamServices beam)
    {
        var request = await BeamConsumerRequest.ParseAsync(context, beam);
        var settings = await request.EnsureAsync(beam, context.RequestAborted);
        var lease = await beam.Streams.EnterAsync(request.Topic, request.Subscription, request.ConsumerId, context.RequestAborted);
        try
        {
            await using var consumer = await beam.Subscriptions.OpenConsumerAsync(request.Topic, request.Subscription, request.ConsumerId, context.RequestAborted);
            // Within the ack deadline, or the leases would end before the acks.
            var window = TimeSpan.FromTicks(Math.Min(ConfirmWindow.Ticks, settings.AckDeadline.Ticks / 2));
            await new Connection(context, beam, request, consumer, window).RunAsync(lease.TakenOver);
        }
        finally
        {
            lease.Dispose();
            await request.EndAsync(beam);
        }
    }

    /// <summary>One connection's loop and what it holds unacked.</summary>
    private sealed class Connection(HttpContext context, BeamServices beam, BeamConsumerRequest request, ISubscriptionConsumer consumer, TimeSpan confirmWindow)
    {
        private readonly List<Delivery> _unflushed = new(MaxBatch);
        private readonly Queue<(Delivery Delivery, long FlushedAt)> _flushed = new();
        private readonly TimeProvider _time = beam.Time;

        public async Task RunAsync(CancellationToken takenOver)
        {
            var options = beam.Options;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, beam.Stopping, consumer.Ended, takenOver);
            var token = linked.Token;
            var writer = new SseWriter(context, TimeSpan.FromMilliseconds(options.SlowConsumerTimeoutMs), _time);
            var keepAlive = TimeSpan.FromMilliseconds(options.SseKeepAliveMs);
            var slow = false;
            try
            {
                SseWriter.StartResponse(context);
                await writer.FlushAsync();
                var lastWrite = _time.GetTimestamp();
                while (!token.IsCancellationRequested)
                {
                    var untilConfirm = _flushed.Count > 0 ? confirmWindow - _time.GetElapsedTime(_flushed.Peek().FlushedAt) : keepAlive;
                    var untilKeepAlive = keepAlive - _time.GetElapsedTime(lastWrite);
                    var wait = TimeSpan.FromTicks(Math.Max(0, Math.Min(untilConfirm.Ticks, untilKeepAlive.Ticks)));
                    IReadOnlyList<Delivery> batch;
                    try
                    {
                        batch = await consumer.ReceiveAsync(MaxBatch, wait, token);
                    }
                    catch (OperationCanceledException) when (token.IsCancellationRequested)
                    {
                        break;
                    }

                    await AckConfirmedAsync();
                    if (batch.Count == 0)
                    {
                        if (_time.GetElapsedTime(lastWrite) >= keepAlive)
                        {
                            writer.WriteComment("keep-alive");
                            await writer.FlushAsync();
                            lastWrite = _time.GetTimestamp();
                        }

                        continue;
                    }

                    _unflushed.AddRange(batch);
                    for (var i = 0; i < batch.Count; i++)
                    {
                        WriteEvent(writer, batch[i]);
                        if (writer.Unflushed >= SseWriter.FlushThresholdBytes && i < batch.Count - 1)
                        {
                            await FlushAsync(writer);
                        }
                    }

                    await FlushAsync(writer);
                    lastWrite = _time.GetTimestamp();
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

        /// <summary>What was written goes out; it waits out the confirmation window before it is acked.</summary>
        private async ValueTask FlushAsync(SseWriter writer)
        {
            await writer.FlushAsync();
            var now = _time.GetTimestamp();
            foreach (var delivery in _unflushed)
            {
                _flushed.Enqueue((delivery, now));
            }

            beam.Metrics.Delivered.Add(_unflushed.Count);
            _unflushed.Clear();
        }

        /// <summary>Acks what was flushed at least the confirmation window ago on a connection that is still open.</summary>
        private async ValueTask AckConfirmedAsync()
        {
            if (_flushed.Count == 0 || context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            var confirmed = new List<Delivery>();
            while (_flushed.TryPeek(out var oldest) && _time.GetElapsedTime(oldest.FlushedAt) >= confirmWindow)
            {
                confirmed.Add(_flushed.Dequeue().Delivery);
            }

            if (confirmed.Count > 0)
            {
                // Applied now; durable with the next cursor write (within 200 ms), shared by every stream.
                beam.Metrics.Acked.Add(await consumer.AckAsync(confirmed, waitDurable: false, CancellationToken.None));
            }
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
                    return;
                }

                // Received but not known to have reached a client that is still there: redeliver at once.
                var held = _unflushed.Concat(_flushed.Select(f => f.Delivery)).Select(d => d.AckId).ToList();
                if (held.Count > 0)
                {
                    await beam.Subscriptions.NackAsync(request.Topic, request.Subscription, held, TimeSpan.Zero, CancellationToken.None);
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
