using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Server.Subscriptions;

namespace Sluice.Server.Streaming;

/// <summary>
/// Writes Server-Sent Events into a pending buffer and hands them to the response's <see cref="PipeWriter"/> in large
/// pieces, then flushes with the slow-consumer timeout. Kestrel's response pipe holds at most 64 KiB unflushed
/// (<c>MaxResponseBufferSize</c>), so a flush that does not complete means the client is not reading.
/// </summary>
/// <remarks>
/// Why a pending buffer: every write to Kestrel's response pipe takes its output lock (a GetSpan and an Advance per
/// piece), and an event is seven pieces; a fan-out writes millions of events a second. The buffer is rented from the
/// array pool when the first byte is written and returned when its bytes go to the pipe (at the latest when flushing),
/// so an idle stream holds none.
/// </remarks>
internal sealed class SseWriter(HttpContext context, TimeSpan slowConsumerTimeout, TimeProvider time) : IBufferWriter<byte>
{
    // Pending bytes go to the pipe once this much has gathered (and always before a flush).
    private const int PendingBytes = 16 * 1024;

    private readonly PipeWriter _writer = context.Response.BodyWriter;

    // A waiting flush and its timeout: NotWaiting, Waiting, or TimedOut (its pending flush cancelled).
    private const int NotWaiting = 0;
    private const int Waiting = 1;
    private const int TimedOut = 2;
    private int _flushWaiting;
    private byte[]? _pending;
    private int _pendingLength;

    // Made at the first message event and dropped at a keep-alive: an idle stream holds none.
    private AckIdFormatter? _ackIds;

    public long Unflushed { get; private set; }

    /// <summary>The clock it times flushes with (the server's).</summary>
    public TimeProvider Time => time;

    public static void StartResponse(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-store";

        // Tell nginx-style proxies not to buffer the stream.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();

        // Kestrel's own minimum response rate (a write may take 5 s + its size / 240 B/s) would cut a stalled reader
        // whose pending write is small (a keep-alive comment) before streaming:slowConsumerTimeoutMs, as if it had
        // just gone away; the slow-consumer timeout is the policy here, and it also releases what the reader held.
        if (context.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.IHttpMinResponseDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }
    }

    /// <summary>
    /// Writes and flushes a <c>: keep-alive</c> comment: what a stream sends when a receive waited its keep-alive interval
    /// for nothing. A stream that went quiet also drops its ack-id formatter here (made again at its next message), so it
    /// holds no more than one that never had a message. Callers await the consumer's receive themselves: a wrapper
    /// awaiting it here would keep one more async state machine alive for every idle stream.
    /// </summary>
    public ValueTask KeepAliveAsync()
    {
        _ackIds = null;
        WriteComment("keep-alive");
        return FlushAsync();
    }

    /// <summary>Writes <c>retry:</c> once, so a client reconnects after that many milliseconds.</summary>
    public void WriteRetry(int retryMs)
    {
        WriteText("retry: ");
        var span = GetSpan(11);
        retryMs.TryFormat(span, out var n, provider: System.Globalization.CultureInfo.InvariantCulture);
        Advance(n);
        WriteText("\n\n");
    }

    /// <summary>A comment line: ignored by clients, keeps proxies from closing an idle stream.</summary>
    public void WriteComment(string text)
    {
        WriteText(": ");
        WriteText(text);
        WriteText("\n\n");
    }

    /// <summary><c>id:</c> (optional), <c>event:</c>, then the JSON object on one <c>data:</c> line.</summary>
    public void WriteEvent<T>(string? id, string eventName, T value, JsonTypeInfo<T> typeInfo)
    {
        if (id is not null)
        {
            WriteText("id: ");
            WriteText(id);
            WriteText("\n");
        }

        WriteText("event: ");
        WriteText(eventName);
        WriteText("\ndata: ");
        JsonSerializer.Serialize(StartData(), value, typeInfo);
        EndData();
    }

    /// <summary>
    /// A subscription's <c>message</c> event: <c>id: {ackId}/{consumerId}</c>, and the delivery's JSON object (the pull's)
    /// on one <c>data:</c> line, which a fan-out to many streams writes once per stream and message: put together in one
    /// piece of the pending buffer, the ack id formatted once for both places, the rest of the object the record's shared
    /// part (<see cref="MessageJson.Shared"/>). <paramref name="consumerIdUtf8"/> is the connection's consumer id, encoded once.
    /// </summary>
    public void WriteMessageEvent(Delivery delivery, ReadOnlySpan<byte> consumerIdUtf8)
    {
        var shared = MessageJson.Shared(delivery.Record, delivery.Partition);
        var span = GetSpan(EventFramingBytes + MaxAckIdBytes + consumerIdUtf8.Length + MaxAckIdBytes + shared.Utf8.Length + MessageJson.SharedOverheadBytes);
        IdPrefix.CopyTo(span);
        _ackIds ??= new AckIdFormatter();
        if (!_ackIds.TryFormat(delivery, span.Slice(IdPrefix.Length, MaxAckIdBytes), out var ackIdLength))
        {
            // Not an engine id, and longer than any: piece by piece (nothing is advanced yet).
            WriteBytes(IdPrefix);
            WriteText(delivery.AckId);
            WriteBytes("/"u8);
            WriteBytes(consumerIdUtf8);
            WriteBytes(DataPrefix);
            MessageJson.Write(StartData(), delivery);
            EndData();
            return;
        }

        var n = IdPrefix.Length + ackIdLength;
        span[n++] = (byte)'/';
        consumerIdUtf8.CopyTo(span[n..]);
        n += consumerIdUtf8.Length;
        DataPrefix.CopyTo(span[n..]);
        n += DataPrefix.Length;
        if (MessageJson.TryWriteShared(span[n..], delivery, shared, span.Slice(IdPrefix.Length, ackIdLength), out var json))
        {
            n += json;
            "\n\n"u8.CopyTo(span[n..]);
            Advance(n + 2);
            CommitIfLarge();
            return;
        }

        // An ack id that needs escaping in JSON (never the engine's): the JSON writer after the id line.
        Advance(n);
        MessageJson.Write(StartData(), delivery);
        EndData();
    }

    /// <summary>
    /// A reader's <c>message</c> event (<c>GET .../messages</c> as a stream): <c>id: {partition}:{offset}</c> and the read
    /// message's JSON. With <paramref name="share"/> (a record object the log keeps for every reader,
    /// <see cref="Sluice.Core.Log.ReadResult.SharedRecords"/>) that is the record's shared part (<see cref="MessageJson.Shared"/>) in
    /// braces: the same bytes for every reader, encoded once for all of them. Without, the record was decoded for this
    /// reader alone: its shared part is used if there is one, else the JSON is written here, and none is kept for it.
    /// </summary>
    public void WriteReadEvent(int partition, StoredRecord record, bool share)
    {
        MessageJson.SharedRecord? shared = null;
        if (!share && !MessageJson.TryGetShared(record, partition, out shared))
        {
            WriteReadEventId(GetSpan(EventFramingBytes + MessageJson.MaxMessageIdBytes), partition, record.Offset, out var head);
            Advance(head);
            MessageJson.WriteRead(StartData(), partition, record);
            EndData();
            return;
        }

        shared ??= MessageJson.Shared(record, partition);
        var span = GetSpan(EventFramingBytes + MessageJson.MaxMessageIdBytes + shared.Utf8.Length);
        WriteReadEventId(span, partition, record.Offset, out var n);
        span[n++] = (byte)'{';
        shared.Utf8.CopyTo(span[n..]);
        n += shared.Utf8.Length;
        "}\n\n"u8.CopyTo(span[n..]);
        Advance(n + 3);
        CommitIfLarge();
    }

    // "id: p:o" and the data prefix, up to the JSON object.
    private static void WriteReadEventId(Span<byte> span, int partition, long offset, out int n)
    {
        IdPrefix.CopyTo(span);
        n = IdPrefix.Length;
        n += MessageJson.FormatMessageId(span[n..], partition, offset);
        DataPrefix.CopyTo(span[n..]);
        n += DataPrefix.Length;
    }

    private static ReadOnlySpan<byte> IdPrefix => "id: "u8;

    private static ReadOnlySpan<byte> DataPrefix => "\nevent: message\ndata: "u8;

    // "id: ", "/", the data prefix and the closing "\n\n" of a message event, with room to spare.
    private const int EventFramingBytes = 40;

    // Compact JSON has no raw line breaks (they are escaped inside strings), so the object stays on one data line.
    // One JSON writer per thread, pointed at this stream's pending buffer: nothing awaits between start and end.
    [ThreadStatic]
    private static Utf8JsonWriter? _json;

    private Utf8JsonWriter StartData()
    {
        if (_json is { } json)
        {
            json.Reset(this);
            return json;
        }

        return _json = new Utf8JsonWriter(this, MessageJson.SharedWriterOptions);
    }

    private void EndData()
    {
        _json!.Flush();
        WriteBytes("\n\n"u8);
        CommitIfLarge();
    }

    private void CommitIfLarge()
    {
        if (_pendingLength >= PendingBytes)
        {
            Commit();
        }
    }

    // ---- IBufferWriter: the pending buffer (also what the JSON writer writes into)

    public void Advance(int count)
    {
        _pendingLength += count;
        Unflushed += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _pending.AsMemory(_pendingLength);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _pending.AsSpan(_pendingLength);
    }

    private void Reserve(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_pending is not null && _pending.Length - _pendingLength >= sizeHint)
        {
            return;
        }

        // What is pending is complete (writers advance only what they finished): it can go to the pipe now.
        Commit();
        _pending = ArrayPool<byte>.Shared.Rent(Math.Max(PendingBytes * 2, sizeHint));
    }

    /// <summary>Hands the pending bytes to the response pipe and returns the buffer to the pool.</summary>
    private void Commit()
    {
        if (_pending is null)
        {
            return;
        }

        if (_pendingLength > 0)
        {
            _writer.Write(_pending.AsSpan(0, _pendingLength));
        }

        ArrayPool<byte>.Shared.Return(_pending);
        _pending = null;
        _pendingLength = 0;
    }

    /// <summary>Flushes; throws <see cref="SlowConsumerException"/> when the client does not take the bytes in time.</summary>
    public ValueTask FlushAsync()
    {
        Commit();

        // Usually the bytes fit the connection's buffers and the flush completes at once, with no timer at all.
        var flush = _writer.FlushAsync();
        if (flush.IsCompletedSuccessfully)
        {
            Check(flush.Result);
            return ValueTask.CompletedTask;
        }

        return FlushSlowAsync(flush);
    }

    private async ValueTask FlushSlowAsync(ValueTask<FlushResult> flush)
    {
        // The client is not taking bytes as fast as they come: give it the slow-consumer timeout, then cut it. The timer
        // exists only while a flush waits (a token source kept per stream cost every idle stream a source and a timer).
        Volatile.Write(ref _flushWaiting, Waiting);
        FlushResult result;
        using (time.CreateTimer(static state => ((SseWriter)state!).OnFlushTimeout(), this, slowConsumerTimeout, Timeout.InfiniteTimeSpan))
        {
            result = await flush;
        }

        // Timed out, even if the flush completed at that very moment: the cancel may already be on its way and would
        // otherwise hit the next flush. Past the timeout, the client was slow either way.
        if (Interlocked.Exchange(ref _flushWaiting, NotWaiting) == TimedOut)
        {
            throw new SlowConsumerException();
        }

        Check(result);
    }

    private void OnFlushTimeout()
    {
        if (Interlocked.CompareExchange(ref _flushWaiting, TimedOut, Waiting) == Waiting)
        {
            _writer.CancelPendingFlush();
        }
    }

    private void Check(FlushResult result)
    {
        if (result.IsCanceled)
        {
            throw new SlowConsumerException();
        }

        if (result.IsCompleted)
        {
            // The client has gone: its connection is closed.
            throw new OperationCanceledException("the client closed the stream");
        }

        Unflushed = 0;
    }

    // An engine ack id is at most 67 bytes; ids of other shapes are formatted from their string.
    private const int MaxAckIdBytes = 256;

    private void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Advance(bytes.Length);
    }

    private void WriteText(string text)
    {
        var n = Encoding.UTF8.GetBytes(text, GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length)));
        Advance(n);
    }
}
