using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Produce;
using Sluice.Server.Topics;

namespace Sluice.Server.Streaming;

/// <summary>
/// <c>GET /v1/topics/{tenant}/{namespace}/{topic}/ws/produce</c>: one message per client frame, one receipt per
/// message once it is durable, in frame order.
/// <code>
///   receive loop: frame ──► validate, choose partition ──► bounded queue (1,024 frames: a fast client waits)
///   append loop:  take what is queued (≤ 1,000) ──► one AppendAsync per partition, in frame order, concurrently
///                 (frames with a future delivery time: one IDelayService append per partition) ──► receipts in frame order
/// </code>
/// Batching what arrived together keeps each partition's order (one append call holds a partition's frames in order)
/// and lets group commit share a flush among them.
/// </summary>
internal static class WebSocketProduceEndpoint
{
    private const int QueueFrames = 1024;
    private const int MaxAppendFrames = 1000;

    public static void Map(IEndpointRouteBuilder topics)
    {
        WebSocketUpgrade.Map(topics, "/{tenant}/{namespace}/{topic}/ws/produce", ProduceAsync, "ProduceWebSocket")
            .WithSummary("WebSocket producer: one message per frame (raw, or a JSON envelope with ?envelope=json), delayed with ?deliverAfterMs=/?deliverAt= or per envelope; a receipt per message once durable, in order")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task ProduceAsync(HttpContext context)
    {
        WebSocketConsumeEndpoint.RequireWebSocket(context);
        var topic = HttpRequestReader.Topic(context);
        var envelope = context.Request.Query.TryGetValue("envelope", out var e) ? e.ToString() switch
        {
            "json" => true,
            "none" => false,
            _ => throw new ProblemException(ProblemKind.InvalidParameter, $"envelope must be json (each frame is {{\"correlationId\",\"key\",\"value\"|\"valueBase64\",\"headers\",\"partition\",\"deliverAt\"|\"deliverAfterMs\"}}) or none (each frame is the value); got '{ProblemWriter.Printable(e.ToString(), 50)}'"),
        } : false;
        var partition = HttpRequestReader.QueryInt(context, "partition", 0, TopicSettings.MaxPartitions - 1);
        var key = context.Request.Query.TryGetValue("key", out var k) ? k.ToString() : null;

        // Checked now (a bad value refuses the upgrade); applied to each frame when it arrives.
        _ = DeliveryTime.FromQuery(context.Request, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow());
        var services = context.RequestServices;
        var partitionCount = await services.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        if (partition >= partitionCount)
        {
            throw new PartitionNotFoundException(topic, partition.Value, partitionCount);
        }

        using var lease = await services.GetRequiredService<StreamRegistry>().EnterAsync(topic, null, null, context.RequestAborted);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var session = new Session(context, socket, topic, partitionCount, envelope, partition, key);
        await session.RunAsync();
    }

    private sealed record Frame(long Seq, string? CorrelationId, int Partition, RecordToAppend? Record, ProblemResponse? Error, DateTimeOffset? DeliverAt = null);

    private sealed class Session(HttpContext context, WebSocket socket, TopicName topic, int partitionCount, bool envelope, int? defaultPartition, string? defaultKey)
    {
        // Encoded once for the connection; every raw frame's record shares it (records never change their key).
        private readonly ReadOnlyMemory<byte>? _defaultKey = ProduceEndpoints.KeyBytes(defaultKey);

        private readonly IServiceProvider _services = context.RequestServices;
        private readonly ServerOptions _options = context.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value;
        private readonly TimeProvider _time = context.RequestServices.GetRequiredService<TimeProvider>();
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly Channel<Frame> _queue = Channel.CreateBounded<Frame>(new BoundedChannelOptions(QueueFrames) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

        public async Task RunAsync()
        {
            var stopping = _services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            var receive = ReceiveLoopAsync(context.RequestAborted);
            var append = AppendLoopAsync();

            // Shutdown stops taking frames; what was taken is appended and receipted, then the server closes.
            using var stop = stopping.Register(() => _queue.Writer.TryComplete());
            var slow = false;
            try
            {
                await append;
            }
            catch (SlowConsumerException)
            {
                slow = true;
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
            {
                // The client went away before its receipts.
            }

            if (slow)
            {
                _services.GetRequiredService<StreamingMetrics>().SlowConsumers.Add(1);
                socket.Abort();
                await Quietly(receive);
                return;
            }

            if (!receive.IsCompleted)
            {
                // Shutting down: frames sent after the last receipt were not taken; the client sends them again elsewhere.
                await CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
                await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None));
                if (!receive.IsCompleted)
                {
                    socket.Abort();
                }

                await Quietly(receive);
                return;
            }

            var (status, reason) = receive.IsCompletedSuccessfully ? receive.Result : (WebSocketCloseStatus.NormalClosure, "");
            await CloseAsync(status, reason);
        }

        private async Task CloseAsync(WebSocketCloseStatus status, string reason)
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    await socket.CloseOutputAsync(status, reason, cts.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
                {
                    socket.Abort();
                }
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
                // The socket is gone; nothing more to do for it.
            }
        }

        private async Task<(WebSocketCloseStatus, string)> ReceiveLoopAsync(CancellationToken token)
        {
            var partitioner = _services.GetRequiredService<Partitioner>();

            // A JSON envelope carries base64 or escaped text: allow for its overhead on top of the value limit.
            var maxFrame = envelope ? (_options.MaxMessageBytes * 4 / 3) + 64 * 1024 : _options.MaxMessageBytes;
            long seq = 0;
            try
            {
                while (true)
                {
                    Frame next;
                    try
                    {
                        var received = await WebSocketFrames.ReceiveAsync(socket, maxFrame, token);
                        if (received is not { } frame)
                        {
                            return (WebSocketCloseStatus.NormalClosure, "");
                        }

                        seq++;
                        next = envelope ? FromEnvelope(seq, frame.Payload, partitioner) : FromRaw(seq, frame.Payload, partitioner);
                    }
                    catch (FrameTooLargeException)
                    {
                        seq++;
                        next = Refused(seq, null, ProblemKind.MessageTooLarge, $"frame {seq} is larger than the server accepts (maxMessageBytes = {_options.MaxMessageBytes} for the value)");
                    }

                    if (!_queue.Writer.TryWrite(next))
                    {
                        await _queue.Writer.WriteAsync(next, token);
                    }
                }
            }
            catch (ChannelClosedException)
            {
                return (WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
            }
            finally
            {
                _queue.Writer.TryComplete();
            }
        }

        private Frame FromRaw(long seq, byte[] payload, Partitioner partitioner)
        {
            var key = _defaultKey;
            var partition = defaultPartition ?? partitioner.Choose(key is { } k ? k.Span : default, key.HasValue, partitionCount);
            var now = _time.GetUtcNow();
            return new Frame(seq, null, partition, new RecordToAppend(key, payload), null, Future(DeliveryTime.FromQuery(context.Request, now), now));
        }

        // A time not after now is an ordinary produce.
        private static DateTimeOffset? Future(DateTimeOffset? due, DateTimeOffset now) => due > now ? due : null;

        private Frame FromEnvelope(long seq, byte[] payload, Partitioner partitioner)
        {
            if (JsonText.Invalid(payload) is { } invalid)
            {
                return Refused(seq, null, ProblemKind.MalformedJson, $"frame {seq} is not valid JSON text: {invalid}");
            }

            ProduceFrame? parsed;
            try
            {
                parsed = JsonSerializer.Deserialize(payload, SluiceJsonContext.Api.ProduceFrame);
            }
            catch (JsonException ex)
            {
                return Refused(seq, null, ProblemKind.MalformedJson, $"frame {seq} is not a JSON envelope {{\"correlationId\",\"key\",\"value\"|\"valueBase64\",\"headers\",\"partition\"}}: {ex.Message}");
            }

            if (parsed is null)
            {
                return Refused(seq, null, ProblemKind.MalformedJson, $"frame {seq} is null; send a JSON object");
            }

            if (parsed.CorrelationId is { Length: > 256 })
            {
                return Refused(seq, null, ProblemKind.InvalidParameter, $"frame {seq}: correlationId may hold at most 256 characters");
            }

            byte[]? value;
            var hasValue = parsed.Value is { ValueKind: not JsonValueKind.Undefined };
            if (hasValue == (parsed.ValueBase64 is not null))
            {
                return Refused(seq, parsed.CorrelationId, ProblemKind.InvalidParameter, $"frame {seq} must have exactly one of value and valueBase64");
            }

            if (parsed.ValueBase64 is { } base64)
            {
                try
                {
                    value = Convert.FromBase64String(base64);
                }
                catch (FormatException)
                {
                    return Refused(seq, parsed.CorrelationId, ProblemKind.InvalidBase64, $"frame {seq}: valueBase64 is not valid base64 (RFC 4648, with padding)");
                }
            }
            else
            {
                var element = parsed.Value!.Value;
                value = element.ValueKind switch
                {
                    JsonValueKind.String => Encoding.UTF8.GetBytes(element.GetString()!),
                    JsonValueKind.Null => null,
                    _ => Encoding.UTF8.GetBytes(element.GetRawText()),
                };
            }

            if (value is not null && value.Length > _options.MaxMessageBytes)
            {
                return Refused(seq, parsed.CorrelationId, ProblemKind.MessageTooLarge, $"frame {seq} has a value of {value.Length} bytes; the most this server accepts is {_options.MaxMessageBytes} bytes");
            }

            List<KeyValuePair<string, string>>? headers = null;
            foreach (var (name, headerValue) in parsed.Headers ?? [])
            {
                if (name.Length == 0 || headerValue is null || name.Any(char.IsControl) || headerValue.Any(char.IsControl))
                {
                    return Refused(seq, parsed.CorrelationId, ProblemKind.InvalidParameter, $"frame {seq}: header names must be non-empty and header names and values must be strings without control characters");
                }

                (headers ??= []).Add(new(name, headerValue));
            }

            var keyText = parsed.Key ?? defaultKey;
            var key = ProduceEndpoints.KeyBytes(keyText);
            var partition = parsed.Partition ?? defaultPartition;
            if (partition is { } p && (p < 0 || p >= partitionCount))
            {
                return Refused(seq, parsed.CorrelationId, ProblemKind.PartitionNotFound, $"frame {seq}: partition {p} does not exist; the topic has {partitionCount} (0..{partitionCount - 1})");
            }

            var now = _time.GetUtcNow();
            DateTimeOffset? due;
            if (parsed.DeliverAt is not null || parsed.DeliverAfterMs is not null)
            {
                due = DeliveryTime.FromJson(parsed.DeliverAt, parsed.DeliverAfterMs, now, $"frame {seq}: ", out var error);
                if (error is not null)
                {
                    return Refused(seq, parsed.CorrelationId, ProblemKind.InvalidParameter, error);
                }
            }
            else
            {
                due = DeliveryTime.FromQuery(context.Request, now);
            }

            partition ??= partitioner.Choose(key is { } k ? k.Span : default, key.HasValue, partitionCount);
            return new Frame(seq, parsed.CorrelationId, partition.Value, new RecordToAppend(key, value, headers), null, Future(due, now));
        }

        private Frame Refused(long seq, string? correlationId, ProblemKind kind, string detail)
            => new(seq, correlationId, -1, null, new ProblemResponse(kind.Type, kind.Title, kind.Status, ProblemWriter.Printable(detail), ProblemWriter.Printable(context.Request.Path.Value)));

        private async Task AppendLoopAsync()
        {
            var log = _services.GetRequiredService<IMessageLog>();
            var delays = _services.GetRequiredService<IDelayService>();
            var metrics = _services.GetRequiredService<SluiceMetrics>();
            var timeout = TimeSpan.FromMilliseconds(_options.SlowConsumerTimeoutMs);
            var reader = _queue.Reader;
            var frames = new List<Frame>(MaxAppendFrames);
            var results = new Dictionary<long, ProduceReceipt>();
            try
            {
                await AppendAllAsync(log, delays, metrics, timeout, reader, frames, results);
            }
            finally
            {
                // Unblocks a receive loop waiting for room in the queue.
                _queue.Writer.TryComplete();
            }
        }

        private async Task AppendAllAsync(IMessageLog log, IDelayService delays, SluiceMetrics metrics, TimeSpan timeout, ChannelReader<Frame> reader, List<Frame> frames, Dictionary<long, ProduceReceipt> results)
        {
            while (await reader.WaitToReadAsync(CancellationToken.None))
            {
                frames.Clear();
                while (frames.Count < MaxAppendFrames && reader.TryRead(out var f))
                {
                    frames.Add(f);
                }

                // One append per partition holding that partition's frames in order (delayed frames: one to the
                // partition's holding partition); partitions concurrently.
                var groups = new Dictionary<(int Partition, bool Delayed), List<Frame>>();
                foreach (var f in frames)
                {
                    if (f.Record is not null)
                    {
                        var key = (f.Partition, f.DeliverAt is not null);
                        if (!groups.TryGetValue(key, out var group))
                        {
                            groups[key] = group = [];
                        }

                        group.Add(f);
                    }
                }

                results.Clear();
                var appends = new List<Task>(groups.Count);
                foreach (var ((partition, delayed), group) in groups)
                {
                    appends.Add(delayed ? AppendDelayedGroupAsync(delays, partition, group, results) : AppendGroupAsync(log, partition, group, results));
                }

                await Task.WhenAll(appends);
                foreach (var f in frames)
                {
                    var receipt = f.Error is not null ? new ProduceReceipt(f.Seq, f.CorrelationId, null, null, null, null, f.Error) : results[f.Seq];
                    if (receipt.Offset is not null)
                    {
                        metrics.Produced.Add(topic, 1);
                    }

                    if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        await WebSocketFrames.SendAsync(socket, JsonSerializer.SerializeToUtf8Bytes(receipt, SluiceJsonContext.Api.ProduceReceipt), _sendLock, timeout, _time, CancellationToken.None);
                    }
                }
            }
        }

        private async Task AppendDelayedGroupAsync(IDelayService delays, int partition, List<Frame> group, Dictionary<long, ProduceReceipt> results)
        {
            var records = new DelayedRecord[group.Count];
            for (var i = 0; i < group.Count; i++)
            {
                records[i] = new DelayedRecord(group[i].Record!, group[i].DeliverAt!.Value);
            }

            try
            {
                // Not cancellable: once started it may be written, and the client is owed its receipt.
                var result = await delays.AppendAsync(topic, partition, records, CancellationToken.None);
                lock (results)
                {
                    for (var i = 0; i < group.Count; i++)
                    {
                        var f = group[i];
                        results[f.Seq] = new ProduceReceipt(f.Seq, f.CorrelationId, result.Ids[i], partition, null, null, null, f.DeliverAt);
                    }
                }
            }
            catch (Exception ex)
            {
                Fail(group, results, ex);
            }
        }

        private async Task AppendGroupAsync(IMessageLog log, int partition, List<Frame> group, Dictionary<long, ProduceReceipt> results)
        {
            var records = new RecordToAppend[group.Count];
            for (var i = 0; i < group.Count; i++)
            {
                records[i] = group[i].Record!;
            }

            try
            {
                // Not cancellable: once started it may be written, and the client is owed its receipt.
                var result = await log.AppendAsync(topic, partition, records, CancellationToken.None);
                lock (results)
                {
                    for (var i = 0; i < group.Count; i++)
                    {
                        var f = group[i];
                        var offset = result.BaseOffset + i;
                        results[f.Seq] = new ProduceReceipt(f.Seq, f.CorrelationId, $"{partition}:{offset}", partition, offset, result.Timestamp, null);
                    }
                }
            }
            catch (Exception ex)
            {
                Fail(group, results, ex);
            }
        }

        private void Fail(List<Frame> group, Dictionary<long, ProduceReceipt> results, Exception ex)
        {
            if (ex is TopicNotFoundException or PartitionNotFoundException)
            {
                _services.GetRequiredService<TopicDirectory>().Forget(topic);
            }

            var (kind, detail) = Problems.ProblemMiddleware.Map(ex);
            if (kind == ProblemKind.Internal)
            {
                StreamingLog.StreamFailed(_services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Streaming.Produce"), "WebSocket produce", topic.ToString(), ex);
            }

            var problem = new ProblemResponse(kind.Type, kind.Title, kind.Status, ProblemWriter.Printable(detail), ProblemWriter.Printable(context.Request.Path.Value));
            lock (results)
            {
                foreach (var f in group)
                {
                    results[f.Seq] = new ProduceReceipt(f.Seq, f.CorrelationId, null, null, null, null, problem);
                }
            }
        }
    }
}
