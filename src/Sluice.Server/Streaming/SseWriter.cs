using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sluice.Core.Subscriptions;
using Sluice.Server.Subscriptions;

namespace Sluice.Server.Streaming;

/// <summary>
/// Writes Server-Sent Events straight into the response's <see cref="PipeWriter"/> (no intermediate buffer) and
/// flushes with the slow-consumer timeout. Kestrel's response pipe holds at most 64 KiB unflushed
/// (<c>MaxResponseBufferSize</c>), so a flush that does not complete means the client is not reading.
/// </summary>
internal sealed class SseWriter(HttpContext context, TimeSpan slowConsumerTimeout, TimeProvider time)
{
    /// <summary>Flush within a batch once this much is written: half of Kestrel's 64 KiB response buffer, so a
    /// batch of large messages never sits whole in memory.</summary>
    public const int FlushThresholdBytes = 32 * 1024;

    private readonly PipeWriter _writer = context.Response.BodyWriter;
    private CancellationTokenSource? _flushTimeout;

    public long Unflushed { get; private set; }

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

    /// <summary>Writes <c>retry:</c> once, so a client reconnects after that many milliseconds.</summary>
    public void WriteRetry(int retryMs) => WriteText($"retry: {retryMs}\n\n");

    /// <summary>A comment line: ignored by clients, keeps proxies from closing an idle stream.</summary>
    public void WriteComment(string text) => WriteText($": {text}\n\n");

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
    /// written by <see cref="MessageJson.Write"/>, which a fan-out to many streams does once per stream and message.
    /// <paramref name="consumerIdUtf8"/> is the connection's consumer id, encoded once.
    /// </summary>
    public void WriteMessageEvent(Delivery delivery, ReadOnlySpan<byte> consumerIdUtf8)
    {
        WriteBytes("id: "u8);
        var span = _writer.GetSpan(MaxAckIdBytes);
        if (!delivery.TryFormatAckId(span, out var n))
        {
            n = Encoding.UTF8.GetBytes(delivery.AckId, span);
        }

        _writer.Advance(n);
        Unflushed += n;
        WriteBytes("/"u8);
        WriteBytes(consumerIdUtf8);
        WriteBytes("\nevent: message\ndata: "u8);
        MessageJson.Write(StartData(), delivery);
        EndData();
    }

    // Compact JSON has no raw line breaks (they are escaped inside strings), so the object stays on one data line.
    // The JSON goes to a per-thread scratch buffer first, then into the pipe: written straight into the response, the
    // JSON writer asks for 4 KiB at a time, which with the chunk framing overflows Kestrel's 4 KiB blocks and rents
    // (under a fan-out to thousands of streams: allocates) an array per event. No await separates the two steps.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    // A scratch buffer grown past this by a large message is dropped after use rather than kept by the thread.
    private const int ScratchKeepBytes = 64 * 1024;

    private static Utf8JsonWriter StartData()
    {
        var scratch = t_scratch ??= new ArrayBufferWriter<byte>(1024);
        scratch.ResetWrittenCount();
        if (t_json is { } json)
        {
            json.Reset(scratch);
            return json;
        }

        return t_json = new Utf8JsonWriter(scratch, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
    }

    private void EndData()
    {
        t_json!.Flush();
        var scratch = t_scratch!;
        WriteBytes(scratch.WrittenSpan);
        WriteBytes("\n\n"u8);
        if (scratch.Capacity > ScratchKeepBytes)
        {
            t_scratch = null;
            t_json = null;
        }
    }

    /// <summary>Flushes; throws <see cref="SlowConsumerException"/> when the client does not take the bytes in time.</summary>
    public ValueTask FlushAsync()
    {
        // One token source per connection, its timer armed only when a flush has to wait: usually the bytes fit the
        // connection's buffers and the flush completes at once.
        _flushTimeout ??= new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        var flush = _writer.FlushAsync(_flushTimeout.Token);
        if (flush.IsCompletedSuccessfully)
        {
            Check(flush.Result);
            return ValueTask.CompletedTask;
        }

        return FlushSlowAsync(flush, _flushTimeout);
    }

    private async ValueTask FlushSlowAsync(ValueTask<FlushResult> flush, CancellationTokenSource timeout)
    {
        // The client is not taking bytes as fast as they come: give it the slow-consumer timeout, then cut it.
        timeout.CancelAfter(slowConsumerTimeout);
        FlushResult result;
        try
        {
            result = await flush;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new SlowConsumerException();
        }

        if (!timeout.TryReset())
        {
            timeout.Dispose();
            _flushTimeout = null;
        }

        Check(result);
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
        _writer.Write(bytes);
        Unflushed += bytes.Length;
    }

    private void WriteText(string text)
    {
        var span = _writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        var n = Encoding.UTF8.GetBytes(text, span);
        _writer.Advance(n);
        Unflushed += n;
    }
}
