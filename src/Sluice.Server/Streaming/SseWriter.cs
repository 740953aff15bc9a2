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
    private Utf8JsonWriter? _json;

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
    /// </summary>
    public void WriteMessageEvent(Delivery delivery, string consumerId)
    {
        WriteText("id: ");
        WriteText(delivery.AckId);
        WriteText("/");
        WriteText(consumerId);
        WriteText("\nevent: message\ndata: ");
        MessageJson.Write(StartData(), delivery);
        EndData();
    }

    // Compact JSON has no raw line breaks (they are escaped inside strings), so the object stays on one data line.
    private Utf8JsonWriter StartData()
    {
        if (_json is null)
        {
            _json = new Utf8JsonWriter(_writer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
        }
        else
        {
            _json.Reset(_writer);
        }

        return _json;
    }

    private void EndData()
    {
        _json!.Flush();
        Unflushed += _json.BytesCommitted;
        WriteText("\n\n");
    }

    /// <summary>Flushes; throws <see cref="SlowConsumerException"/> when the client does not take the bytes in time.</summary>
    public async ValueTask FlushAsync()
    {
        using var timeout = new CancellationTokenSource(slowConsumerTimeout, time);
        FlushResult result;
        try
        {
            result = await _writer.FlushAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new SlowConsumerException();
        }

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

    private void WriteText(string text)
    {
        var span = _writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        var n = Encoding.UTF8.GetBytes(text, span);
        _writer.Advance(n);
        Unflushed += n;
    }
}
