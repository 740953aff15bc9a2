using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sluice.Bench.Streaming;

/// <summary>
/// The fan-out baseline: a bare Kestrel server, run as a child process like Sluice, that answers the fan-out run's
/// requests with the least an SSE broadcaster does. <c>PUT</c> answers 200 and keeps nothing. <c>POST .../batch</c>
/// stamps each message with the time it arrived (<c>publishTime</c>, as Sluice's append does), encodes its SSE event
/// once (Sluice's event, field for field: a subscription stream's, or with <see cref="ReaderEvents"/> a reader's), links
/// the batch onto an in-memory list and answers 200. Any <c>GET</c> holds an SSE stream that waits for the next batch,
/// writes every batch it has not written yet and flushes once: one wake-up, one write and one send per stream and
/// batch. No log, no sync, no subscriptions, leases or acks; nothing is kept for a slow reader beyond the list it has
/// not reached (the run's 5 s). Sluice against it is what Sluice's own work costs the figure.
/// </summary>
internal static class BareFanOut
{
    public const string ChildFlag = "--child-fanout-bare";

    /// <summary>After the port: events shaped as a reader's (<c>GET .../messages</c>), not a subscription's.</summary>
    public const string ReaderEvents = "readers";

    // As long as the id Sluice gives an SSE stream that names none ("sse-" and 24 hex digits).
    private const string ConsumerId = "sse-000000000000000000000000";

    /// <summary>Child mode: <c>--child-fanout-bare PORT [readers]</c> serves until killed.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        if (args is not [ChildFlag, var portText, .. var rest] || !int.TryParse(portText, CultureInfo.InvariantCulture, out var port)
            || rest is not ([] or [ReaderEvents]))
        {
            await Console.Error.WriteLineAsync($"usage: {ChildFlag} PORT [{ReaderEvents}]");
            return 2;
        }

        var readerEvents = rest is [ReaderEvents];

        var tail = new Batch([]);
        var appendLock = new object();
        long offset = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapGet("/readyz", () => Results.Ok());
        app.MapPut("/{**path}", () => Results.Ok());
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var events = new MemoryStream();
            lock (appendLock)
            {
                var published = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
                foreach (var message in body.RootElement.GetProperty("messages").EnumerateArray())
                {
                    var value = JsonSerializer.Serialize(message.GetProperty("value").GetString());
                    // Sluice's event for the same message, field for field and about byte for byte. A reader's: an id line of
                    // the position, then id, partition, offset, value, encoding, headers, publishTime. A subscription
                    // stream's adds an ack id and a consumer id to the id line, the ack id before the fields and the
                    // attempt after them. Encoded once per message here; Sluice writes each subscription stream's own ack ids.
                    var n = offset++;
                    var fields = string.Create(CultureInfo.InvariantCulture,
                        $"\"id\":\"0:{n}\",\"partition\":0,\"offset\":{n},\"value\":{value},\"valueEncoding\":\"utf8\",\"headers\":{{}},\"publishTime\":\"{published}\"");
                    events.Write(Encoding.UTF8.GetBytes(readerEvents
                        ? string.Create(CultureInfo.InvariantCulture, $"id: 0:{n}\nevent: message\ndata: {{{fields}}}\n\n")
                        : string.Create(CultureInfo.InvariantCulture,
                            $"id: 1.0.0.{n}.1/{ConsumerId}\nevent: message\ndata: {{\"ackId\":\"1.0.0.{n}.1\",{fields},\"deliveryAttempt\":1}}\n\n")));
                }

                var next = new Batch(events.ToArray());
                var last = tail;
                tail = next;
                last.Next.SetResult(next);
            }
        });
        app.MapGet("/{**path}", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.StartAsync(context.RequestAborted);
            Batch seen;
            lock (appendLock)
            {
                seen = tail;
            }

            var output = context.Response.BodyWriter;
            try
            {
                while (true)
                {
                    seen = await seen.Next.Task.WaitAsync(context.RequestAborted);
                    output.Write(seen.Events.AsSpan());
                    while (seen.Next.Task.IsCompleted)
                    {
                        seen = seen.Next.Task.Result;
                        output.Write(seen.Events.AsSpan());
                    }

                    await output.FlushAsync(context.RequestAborted);
                }
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away.
            }
        });
        await app.RunAsync();
        return 0;
    }

    private sealed class Batch(byte[] events)
    {
        public byte[] Events { get; } = events;

        public TaskCompletionSource<Batch> Next { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
