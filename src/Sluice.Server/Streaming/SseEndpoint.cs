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
/// <c>GET .../subscriptions/{name}/events</c>: a subscription as Server-Sent Events, one <c>message</c> event per
/// delivery with the pull's JSON object as data.
/// <code>
///   Poll(100) ──► nothing yet: await the handle's waiter, Poll again
///             ├─► interrupted by the registry's keep-alive clock: ": keep-alive" ──► flush
///             └─► events (flush every 32 KiB and at the end) ──► written: ack=auto acks them,
///                                                                 ack=explicit remembers them
///   end ──► unwritten deliveries released at once; ack=explicit keeps the written, unacked ids for a resume
///   slow client (flush blocked past slowConsumerTimeoutMs) ──► connection aborted, everything it held released
/// </code>
/// Event ids are resume tokens <c>{ackId}/{consumerId}</c>: a reconnect with <c>Last-Event-ID</c> comes back as the
/// same consumer (required by exclusive subscriptions) and the server releases what it had written after that id,
/// which the client never received, so the stream continues right after it with no gap and no repeat.
/// </summary>
internal static class SseEndpoint
{
    public const string LastEventIdHeader = "Last-Event-ID";

    /// <summary>What a browser waits before reconnecting (sent once as <c>retry:</c>).</summary>
    public const int RetryMs = 2000;

    /// <summary>Deliveries per receive: enough to amortise flushes, few enough that a slow client holds little.</summary>
    private const int MaxBatch = 100;

    /// <summary>Most written-but-unacked ids kept for a resume; beyond it the oldest are left to their ack deadline.</summary>
    private const int MaxResumeIds = 10_000;

    public static void Map(IEndpointRouteBuilder topics)
    {
        // The server's own services, not the request's: every service a stream uses is a singleton, and a request's
        // scope (made on first use of RequestServices) would stay alive, with its dictionary, as long as the stream.
        var services = topics.ServiceProvider;
        topics.MapGet("/{tenant}/{namespace}/{topic}/subscriptions/{subscription}/events", (Func<HttpContext, Task>)(context => StreamAsync(context, services)))
            .WithName("SubscriptionEvents")
            .WithMetadata(OwnsItsFailures.Instance)
            .WithSummary("Server-Sent Events: one 'message' event per delivery; ack=explicit (default) or auto; resumable with Last-Event-ID")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    // Not async: the whole stream, set-up included, is one async method of its Connection, so an idle stream keeps one
    // state machine alive, not one per layer.
    private static Task StreamAsync(HttpContext context, IServiceProvider services)
    {
        var topic = HttpRequestReader.Topic(context);
        var name = HttpRequestReader.Subscription(context);
        var autoAck = ParseAckMode(context);
        var lastEventId = context.Request.Headers.TryGetValue(LastEventIdHeader, out var header) ? header.ToString()
            : context.Request.Query.TryGetValue("lastEventId", out var q) ? q.ToString() : null;
        var (lastAckId, tokenConsumer) = ParseEventId(lastEventId);
        var consumerId = StreamRequest.ConsumerId(context, tokenConsumer, "sse-");
        return new Connection(context, services, topic, name, autoAck).RunAsync(consumerId, lastAckId);
    }

    /// <summary>
    /// Releases (for redelivery at once) what the previous stream wrote after <paramref name="lastAckId"/>: the client
    /// never got it. What it wrote up to that id stays leased to the client. An unknown id releases everything written.
    /// </summary>
    private static async ValueTask ReleaseAfterAsync(ISubscriptionService service, TopicName topic, string name, IReadOnlyList<string> written, string lastAckId)
    {
        var index = -1;
        for (var i = written.Count - 1; i >= 0; i--)
        {
            if (written[i] == lastAckId)
            {
                index = i;
                break;
            }
        }

        var release = new List<string>(written.Count - index - 1);
        for (var i = index + 1; i < written.Count; i++)
        {
            release.Add(written[i]);
        }

        if (release.Count > 0)
        {
            // Acked or expired ids come back as unknown or expired and are left alone.
            await service.NackAsync(topic, name, release, TimeSpan.Zero, CancellationToken.None);
        }
    }

    private static bool ParseAckMode(HttpContext context)
    {
        if (!context.Request.Query.TryGetValue("ack", out var ack))
        {
            return false;
        }

        return ack.ToString() switch
        {
            "explicit" => false,
            "auto" => true,
            _ => throw new ProblemException(ProblemKind.InvalidParameter, $"ack must be explicit (the client acks with POST .../acks) or auto (acked once written); got '{ProblemWriter.Printable(ack.ToString(), 50)}'"),
        };
    }

    /// <summary>An event id is <c>{ackId}/{consumerId}</c>; anything else (a browser's stale id) is ignored.</summary>
    internal static (string? AckId, string? Consumer) ParseEventId(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return (null, null);
        }

        var slash = id.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < id.Length - 1 ? (id[..slash], id[(slash + 1)..]) : (null, null);
    }

    /// <summary>One connection's loop and its bookkeeping.</summary>
    private sealed class Connection(HttpContext context, IServiceProvider services, TopicName topic, string name, bool autoAck)
    {
        private readonly IServiceProvider _services = services;
        // Made at the first batch and dropped again when a keep-alive interval passes with them empty (TrimIdle).
        private List<Delivery>? _unconfirmed;
        private List<Delivery>? _written;
        private Queue<(string AckId, DateTimeOffset At)>? _resume;
        private ISubscriptionConsumer _consumer = null!;
        private TimeSpan _ackDeadline;

        // Services are resolved where they are used, not kept in locals: a local used after an await is a field of this
        // method's state machine, which an idle stream keeps alive (design note 0035).
        public async Task RunAsync(string consumerId, string? lastAckId)
        {
            var options = _services.GetRequiredService<IOptions<ServerOptions>>().Value;
            var writer = new SseWriter(context, TimeSpan.FromMilliseconds(options.SlowConsumerTimeoutMs), _services.GetRequiredService<TimeProvider>());
            var settings = await StreamRequest.EnsureSubscriptionAsync(context, _services, topic, name);
            _ackDeadline = settings.AckDeadline;
            var lease = await _services.GetRequiredService<StreamRegistry>().EnterAsync(topic, name, consumerId, context.RequestAborted);
            try
            {
                await using var consumer = await _services.GetRequiredService<ISubscriptionService>().OpenConsumerAsync(topic, name, consumerId, context.RequestAborted);
                _consumer = consumer;
                if (autoAck)
                {
                    // New messages are held, not leased: acked once written, returned by the handle if never written.
                    consumer.HoldNewMessages();
                }

                if (lastAckId is not null && _services.GetRequiredService<StreamRegistry>().TakeResume(topic, name, consumerId) is { } previous)
                {
                    await ReleaseAfterAsync(_services.GetRequiredService<ISubscriptionService>(), topic, name, previous, lastAckId);
                }

                var stopping = _services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

                // The lease ends the stream (taken over, client gone, server stopping) by interrupting its receive, which
                // waits with no token of its own; the consumer's end ends the receive (ConsumerEndedException). No linked
                // source, no token source of the lease: an idle stream would hold them and their registrations for as long
                // as it stays open.
                lease.EndAlsoOn(context.RequestAborted, stopping);
                var slow = false;
                var consumerIdUtf8 = System.Text.Encoding.UTF8.GetBytes(consumer.ConsumerId);

                try
                {
                    SseWriter.StartResponse(context);
                    writer.WriteRetry(RetryMs);
                    await writer.FlushAsync();
                    StreamRequest.DropParsedQuery(context);

                    // The registry's one clock ends an idle receive when a keep-alive is due: no timer per stream.
                    lease.KeepAlive(consumer);

                    // The batch is a local of this (hoisted) state machine: it is dropped once written, or an idle stream
                    // would keep its last batch, records and all, until the next one. Indexed, not foreach: a boxed
                    // enumerator would keep it too.
                    IReadOnlyList<Delivery>? batch;

                    // Read once: Kestrel's getter takes its lock, and every turn of the stream passes the token.
                    var aborted = context.RequestAborted;
                    while (!lease.IsEnding)
                    {
                        // The stream awaits the consumer handle's waiter itself (Poll): no frame of the engine's stays alive
                        // while it idles. Ended while waiting: the lease interrupted it (an empty batch, then the loop's
                        // test), or the consumer ended (ConsumerEndedException or a cancellation, which end the stream below).
                        batch = consumer.Poll(MaxBatch, out var wait, aborted);
                        if (wait is { } pending)
                        {
                            await pending;
                            continue;
                        }

                        if (batch.Count == 0)
                        {
                            // Interrupted: a keep-alive is due, or the stream is ending.
                            if (lease.IsEnding)
                            {
                                break;
                            }

                            TrimIdle();
                            await writer.KeepAliveAsync();
                            lease.Active();
                            continue;
                        }

                        MessageTracing.Received(topic, name, batch);
                        _unconfirmed ??= [];
                        _written ??= [];
                        _unconfirmed.AddRange(batch);
                        for (var i = 0; i < batch.Count; i++)
                        {
                            var delivery = batch[i];
                            writer.WriteMessageEvent(delivery, consumerIdUtf8);
                            _written.Add(delivery);
                            if (writer.Unflushed >= ResponseFlush.ThresholdBytes)
                            {
                                await writer.FlushAsync();
                                await ConfirmAsync(writer.Time);
                            }
                        }

                        batch = null;
                        await writer.FlushAsync();
                        lease.Active();
                        await ConfirmAsync(writer.Time);
                    }
                }
                catch (SlowConsumerException)
                {
                    slow = true;
                    _services.GetRequiredService<StreamingMetrics>().SlowConsumers.Add(1);
                    StreamingLog.SlowConsumerClosed(
                        _services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Streaming.Sse"),
                        "SSE",
                        topic.ToString(),
                        name,
                        consumer.ConsumerId,
                        _services.GetRequiredService<IOptions<ServerOptions>>().Value.SlowConsumerTimeoutMs);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException || context.RequestAborted.IsCancellationRequested)
                {
                    // The client went away mid-write.
                }
                finally
                {
                    await EndAsync(slow);
                }
            }
            finally
            {
                lease.Dispose();
            }
        }

        /// <summary>
        /// A keep-alive interval passed with nothing to send: the lists of the last burst are dropped, so a stream that
        /// had traffic and went quiet holds no more than one that never had any (which has none).
        /// </summary>
        private void TrimIdle()
        {
            if (_unconfirmed is { Count: 0 })
            {
                _unconfirmed = null;
            }

            if (_written is { Count: 0 })
            {
                _written = null;
            }
        }

        /// <summary>Everything written so far reached the client's connection: ack it (auto) or remember it (explicit).</summary>
        private async ValueTask ConfirmAsync(TimeProvider time)
        {
            if (_written is not { Count: > 0 } written)
            {
                return;
            }

            if (autoAck)
            {
                // Applied now; the cursor is written with the next cursor append (a crash before it redelivers).
                var acked = await _consumer.AckAsync(written, waitDurable: false, CancellationToken.None);
                _ = acked;
            }
            else
            {
                var now = time.GetUtcNow();
                _resume ??= new();
                foreach (var delivery in written)
                {
                    _resume.Enqueue((delivery.AckId, now));
                }

                // Older than the ack deadline: expired and redelivered by the engine anyway.
                while (_resume.Count > MaxResumeIds || (_resume.Count > 0 && _resume.Peek().At + _ackDeadline <= now))
                {
                    _resume.Dequeue();
                }
            }

            _unconfirmed!.RemoveRange(0, written.Count);
            written.Clear();
        }

        private async ValueTask EndAsync(bool slow)
        {
            try
            {
                if (slow)
                {
                    // The client stopped reading: cut it and give everything it held to other consumers now.
                    context.Abort();
                    await _consumer.ReleaseInFlightAsync(CancellationToken.None);
                    return;
                }

                if (_unconfirmed is { Count: > 0 })
                {
                    // Received from the engine but not known to have reached the client: redeliver at once.
                    await _consumer.ReturnAsync(_unconfirmed, CancellationToken.None);
                }

                if (!autoAck)
                {
                    var ids = new List<string>(_resume?.Count ?? 0);
                    if (_resume is not null)
                    {
                        foreach (var (id, _) in _resume)
                        {
                            ids.Add(id);
                        }
                    }

                    _services.GetRequiredService<StreamRegistry>().SaveResume(topic, name, _consumer.ConsumerId, ids, _ackDeadline);
                }
            }
            catch (Exception ex) when (ex is SubscriptionNotFoundException or ObjectDisposedException or OperationCanceledException)
            {
                // Deleted subscription or engine shutting down: nothing left to release.
            }
        }
    }
}
