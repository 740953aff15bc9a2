using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Subscriptions;

namespace Sluice.Server.Streaming;

/// <summary>
/// <c>GET .../subscriptions/{name}/ws</c>: a subscription over one WebSocket.
/// <code>
///   send loop:    wait until unacked &lt; permits ──► ReceiveAsync(permits - unacked) ──► one text frame per message
///   receive loop: {"ack":[...]} / {"nack":[...],"delayMs":n} ──► engine ──► {"acked"|"nacked", unknown, expired}
///                 {"permits":n} ──► the window; wakes the send loop
///   end (close, slow client, shutdown, subscription deleted) ──► everything still unacked is released at once
/// </code>
/// </summary>
internal static class WebSocketConsumeEndpoint
{
    /// <summary>The window before the client sets one (<c>?permits=</c> sets it from the start).</summary>
    public const int DefaultPermits = 100;

    public const int MaxPermits = 100_000;

    /// <summary>Deliveries per receive.</summary>
    private const int MaxBatch = 500;

    /// <summary>4 MiB: room for 10,000 ack ids, the limit of a POST ack.</summary>
    private const int MaxClientFrameBytes = 4 * 1024 * 1024;

    /// <summary>How long the send loop waits for messages before looking again (shutdown, window changes).</summary>
    private static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(5);

    public static void Map(IEndpointRouteBuilder topics)
    {
        WebSocketUpgrade.Map(topics, "/{tenant}/{namespace}/{topic}/subscriptions/{subscription}/ws", ConsumeAsync, "SubscriptionWebSocket")
            .WithMetadata(OwnsItsFailures.Instance)
            .WithSummary("WebSocket consumer: message frames out; {\"ack\":[...]}, {\"nack\":[...],\"delayMs\":n} and {\"permits\":n} frames in")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task ConsumeAsync(HttpContext context)
    {
        RequireWebSocket(context);
        var topic = HttpRequestReader.Topic(context);
        var name = HttpRequestReader.Subscription(context);
        var permits = HttpRequestReader.QueryInt(context, "permits", 0, MaxPermits) ?? DefaultPermits;
        var consumerId = StreamRequest.ConsumerId(context, null, "ws-");
        var services = context.RequestServices;
        var settings = await StreamRequest.EnsureSubscriptionAsync(context, services, topic, name);
        var lease = await services.GetRequiredService<StreamRegistry>().EnterAsync(topic, name, consumerId, context.RequestAborted);
        try
        {
            await using var consumer = await services.GetRequiredService<ISubscriptionService>().OpenConsumerAsync(topic, name, consumerId, context.RequestAborted);
            var keepAlive = TimeSpan.FromMilliseconds(services.GetRequiredService<IOptions<ServerOptions>>().Value.SseKeepAliveMs);
            var (socket, frames) = await WebSocketUpgrade.AcceptAsync(context, keepAlive);
            using var disposeSocket = socket;
            StreamRequest.DropParsedQuery(context);
            var session = new Session(context, socket, frames, topic, name, consumer, permits, settings.AckDeadline);
            await session.RunAsync(lease.Ending);
        }
        finally
        {
            lease.Dispose();
        }
    }

    internal static void RequireWebSocket(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            ProblemException.Throw(ProblemKind.BadRequest, $"{context.Request.Path} is a WebSocket endpoint: send GET with Upgrade: websocket");
        }
    }

    private sealed class Session(HttpContext context, WebSocket socket, FrameBatchingStream? frames, TopicName topic, string name, ISubscriptionConsumer consumer, int permits, TimeSpan ackDeadline)
    {
        private readonly IServiceProvider _services = context.RequestServices;
        private readonly ServerOptions _options = context.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value;
        private readonly TimeProvider _time = context.RequestServices.GetRequiredService<TimeProvider>();
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly SemaphoreSlim _changed = new(0);
        private readonly Lock _gate = new();

        // Ack ids out on this socket (as keys: no string per message) and when they were sent: an id older than the ack
        // deadline has expired (the engine redelivers it), so it stops counting against the window even if the client
        // never answers it.
        private readonly Dictionary<DeliveryKey, DateTimeOffset> _outstanding = [];
        private int _permits = permits;

        // The send loop's frame buffer and writer (the send loop is the only user).
        private const int InitialFrameBytes = 1024;
        private const int MaxKeptFrameBytes = 64 * 1024;
        private Utf8JsonWriter? _json;
        private ArrayBufferWriter<byte> _frame = new(InitialFrameBytes);

        public async Task RunAsync(CancellationToken takenOver)
        {
            var logger = _services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Streaming.WebSocket");
            var stopping = _services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

            // Separate tokens: cancelling a WebSocket receive aborts the socket, so the receive loop is cancelled only
            // after the close handshake has had its chance; the send loop stops first.
            using var sending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping, consumer.Ended, takenOver);
            using var receiving = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            var slow = false;
            (WebSocketCloseStatus Status, string Reason)? close = null;

            var receive = ReceiveLoopAsync(receiving.Token);
            var send = SendLoopAsync(sending.Token);
            try
            {
                close = await await Task.WhenAny(receive, send);
            }
            catch (SlowConsumerException)
            {
                slow = true;
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
            {
                // The client went away, or the stream was ended (shutdown, deleted, taken over): closed below.
            }
            catch (Exception ex)
            {
                StreamingLog.StreamFailed(logger, "WebSocket consume", topic.ToString(), ex);
                close = (WebSocketCloseStatus.InternalServerError, "internal error; it is logged");
            }

            await sending.CancelAsync();
            try
            {
                await send;
            }
            catch (SlowConsumerException)
            {
                slow = true;
            }
            catch (Exception)
            {
                // Ended by the cancel above, or the socket is gone.
            }

            try
            {
                // Whatever this socket still holds unacked goes back to the subscription now.
                await consumer.ReleaseInFlightAsync(CancellationToken.None);
            }
            catch (Exception ex) when (ex is SubscriptionNotFoundException or ObjectDisposedException)
            {
                // Nothing left to release.
            }

            if (slow)
            {
                _services.GetRequiredService<StreamingMetrics>().SlowConsumers.Add(1);
                StreamingLog.SlowConsumerClosed(logger, "WebSocket", topic.ToString(), name, consumer.ConsumerId, _options.SlowConsumerTimeoutMs);
                socket.Abort();
                await receiving.CancelAsync();
                await Quietly(receive);
                return;
            }

            close ??= stopping.IsCancellationRequested ? (WebSocketCloseStatus.EndpointUnavailable, "server shutting down")
                : consumer.Ended.IsCancellationRequested ? (WebSocketCloseStatus.NormalClosure, "subscription ended")
                : takenOver.IsCancellationRequested ? (WebSocketCloseStatus.PolicyViolation, "another connection took over this consumer")
                : (WebSocketCloseStatus.NormalClosure, "");
            await CloseAsync(close.Value.Status, close.Value.Reason);

            // Give the client a moment to answer the close, then stop reading.
            await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None));
            await receiving.CancelAsync();
            await Quietly(receive);
        }

        // A client's frame as the consumer frame it holds, or what makes it malformed JSON.
        private static (ConsumerFrame? Frame, string? Malformed) Parse(WebSocketMessageType type, ReadOnlySpan<byte> payload)
        {
            if (type != WebSocketMessageType.Text)
            {
                return (null, null);
            }

            if (JsonText.Invalid(payload) is { } invalid)
            {
                return (null, $"a frame is not valid JSON text: {invalid}");
            }

            try
            {
                return (JsonSerializer.Deserialize(payload, SluiceJsonContext.Api.ConsumerFrame), null);
            }
            catch (JsonException ex)
            {
                return (null, $"a frame must be a JSON object such as {{\"ack\":[\"...\"]}}: {ex.Message}");
            }
        }

        private async Task<(WebSocketCloseStatus, string)?> ReceiveLoopAsync(CancellationToken token)
        {
            var service = _services.GetRequiredService<ISubscriptionService>();
            while (!token.IsCancellationRequested)
            {
                (byte[] Rented, int Length, WebSocketMessageType Type)? frame;
                try
                {
                    frame = await WebSocketFrames.ReceiveRentedAsync(socket, MaxClientFrameBytes, token);
                }
                catch (FrameTooLargeException ex)
                {
                    return await RefuseAsync(WebSocketCloseStatus.MessageTooBig, ProblemKind.InvalidParameter, ex.Message, token);
                }

                if (frame is not { } f)
                {
                    return (WebSocketCloseStatus.NormalClosure, "");
                }

                ConsumerFrame? parsed;
                string? malformed;
                try
                {
                    (parsed, malformed) = Parse(f.Type, f.Rented.AsSpan(0, f.Length));
                }
                finally
                {
                    WebSocketFrames.Release(f.Rented);
                }

                if (malformed is not null)
                {
                    return await RefuseAsync(WebSocketCloseStatus.InvalidPayloadData, ProblemKind.MalformedJson, malformed, token);
                }

                using var ackIds = parsed?.Ack;
                using var nackIds = parsed?.Nack;
                if (parsed is null || (parsed.Ack is null && parsed.Nack is null && parsed.Permits is null))
                {
                    return await RefuseAsync(WebSocketCloseStatus.InvalidPayloadData, ProblemKind.InvalidParameter, "a frame must be a JSON text frame: {\"ack\":[ids]}, {\"nack\":[ids],\"delayMs\":n} or {\"permits\":n}", token);
                }

                if (Validate(parsed) is { } problem)
                {
                    return await RefuseAsync(WebSocketCloseStatus.PolicyViolation, ProblemKind.InvalidParameter, problem, token);
                }

                if (ackIds is { Count: > 0 } acks)
                {
                    var result = await service.AckAsync(topic, name, acks, token);
                    Settle(acks);
                    await SendJsonAsync(new AckFrame(result.Succeeded, null, result.Unknown, result.Expired), SluiceJsonContext.Api.AckFrame, token);
                }

                if (nackIds is { Count: > 0 } nacks)
                {
                    var result = await service.NackAsync(topic, name, nacks, TimeSpan.FromMilliseconds(parsed.DelayMs ?? 0), token);
                    Settle(nacks);
                    await SendJsonAsync(new AckFrame(null, result.Succeeded, result.Unknown, result.Expired), SluiceJsonContext.Api.AckFrame, token);
                }

                if (parsed.Permits is { } n)
                {
                    lock (_gate)
                    {
                        _permits = n;
                    }

                    Wake();
                }
            }

            return null;
        }

        private static string? Validate(ConsumerFrame frame)
        {
            if (frame.Permits is { } p && (p < 0 || p > MaxPermits))
            {
                return $"permits must be between 0 and {MaxPermits}; got {p}";
            }

            if (frame.DelayMs is { } d && (d < 0 || d > 43_200_000))
            {
                return $"delayMs must be between 0 and 43200000 (12 h); got {d}";
            }

            var count = (frame.Ack?.Count ?? 0) + (frame.Nack?.Count ?? 0);
            if (count > SubscriptionEndpoints.MaxAckIds)
            {
                return $"at most {SubscriptionEndpoints.MaxAckIds} ack ids per frame; got {count}";
            }

            return frame.Ack is { HasEmpty: true } || frame.Nack is { HasEmpty: true } ? "ack ids must be non-empty strings" : null;
        }

        private async Task<(WebSocketCloseStatus, string)?> SendLoopAsync(CancellationToken token)
        {
            var timeout = TimeSpan.FromMilliseconds(_options.SlowConsumerTimeoutMs);
            while (!token.IsCancellationRequested)
            {
                int room;
                lock (_gate)
                {
                    ExpireLocked();
                    room = _permits - _outstanding.Count;
                }

                if (room <= 0)
                {
                    // Woken by an ack, a nack or a new window; the timeout lets expired ids free their place.
                    await _changed.WaitAsync(TimeSpan.FromSeconds(1), token);
                    continue;
                }

                IReadOnlyList<Delivery> batch;
                try
                {
                    batch = await consumer.ReceiveAsync(Math.Min(room, MaxBatch), ReceiveWait, token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return null;
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                MessageTracing.Received(topic, name, batch);
                var now = _time.GetUtcNow();
                lock (_gate)
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        _outstanding[batch[i].Key] = now;
                    }
                }

                await SendBatchAsync(batch, timeout, token);

            }

            return null;
        }

        // One text frame per message, each written by MessageJson.WriteTo into one reused buffer (the bytes the
        // serializer would write for a PulledMessage, without the object, the serializer's state and an array per
        // message); the send lock and the slow-consumer timer are taken once per batch, the timer restarted per frame.
        private async Task SendBatchAsync(IReadOnlyList<Delivery> batch, TimeSpan timeout, CancellationToken token)
        {
            using var cts = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
            await _sendLock.WaitAsync(token);
            try
            {
                // The batch's frames go to the connection together, with the last one.
                frames?.Hold(cts.Token);
                for (var i = 0; i < batch.Count; i++)
                {
                    token.ThrowIfCancellationRequested();
                    _frame.ResetWrittenCount();
                    MessageJson.WriteTo(_frame, batch[i], ref _json);
                    cts.CancelAfter(timeout);
                    if (i == batch.Count - 1)
                    {
                        frames?.ReleaseAtNextWrite();
                    }

                    // Cancelling a WebSocket send aborts the socket: exactly what a slow consumer gets. Held frames are
                    // sent without a token (the stream's writes for the batch carry it instead; see Hold).
                    await socket.SendAsync(_frame.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, frames is null ? cts.Token : CancellationToken.None);
                }
            }
            catch (Exception ex) when (cts.IsCancellationRequested && ex is OperationCanceledException or WebSocketException or IOException)
            {
                // The timer cancelled a write (under a send without a token the WebSocket may report it wrapped).
                throw new SlowConsumerException();
            }
            finally
            {
                // Ended early (cancelled, failed): what is held goes out with the next frame (the close, at the latest).
                frames?.ReleaseAtNextWrite();
                _sendLock.Release();
                if (_frame.Capacity > MaxKeptFrameBytes)
                {
                    // One large message must not keep its buffer for the life of the socket.
                    _frame = new ArrayBufferWriter<byte>(InitialFrameBytes);
                }
            }
        }

        private void Settle(AckIdList ids)
        {
            lock (_gate)
            {
                for (var i = 0; i < ids.Count; i++)
                {
                    _outstanding.Remove(ids.KeyAt(i));
                }
            }

            Wake();
        }

        private void ExpireLocked()
        {
            if (_outstanding.Count == 0)
            {
                return;
            }

            var cutoff = _time.GetUtcNow() - ackDeadline;
            List<DeliveryKey>? expired = null;
            foreach (var (id, sent) in _outstanding)
            {
                if (sent <= cutoff)
                {
                    (expired ??= []).Add(id);
                }
            }

            foreach (var id in expired ?? [])
            {
                _outstanding.Remove(id);
            }
        }

        private void Wake()
        {
            if (_changed.CurrentCount == 0)
            {
                _changed.Release();
            }
        }

        private ValueTask SendJsonAsync<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken token)
            => WebSocketFrames.SendAsync(socket, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), _sendLock, TimeSpan.FromMilliseconds(_options.SlowConsumerTimeoutMs), _time, token);

        private async Task<(WebSocketCloseStatus, string)?> RefuseAsync(WebSocketCloseStatus status, ProblemKind kind, string detail, CancellationToken token)
        {
            var problem = new ProblemResponse(kind.Type, kind.Title, kind.Status, ProblemWriter.Printable(detail), ProblemWriter.Printable(context.Request.Path.Value));
            await SendJsonAsync(new ErrorFrame(problem), SluiceJsonContext.Api.ErrorFrame, token);
            return (status, kind.Name);
        }

        private async Task CloseAsync(WebSocketCloseStatus status, string reason)
        {
            if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
            {
                return;
            }

            try
            {
                // Bounded: a client that never answers the close must not hold up shutdown.
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(status, reason, cts.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
            {
                socket.Abort();
            }
        }

        private static async Task Quietly(Task task)
        {
            try
            {
                await task;
            }
            catch (Exception)
            {
                // Already handled (or irrelevant) once the session is ending.
            }
        }
    }
}
