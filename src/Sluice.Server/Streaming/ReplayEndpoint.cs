using System.Globalization;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;

namespace Sluice.Server.Streaming;

/// <summary>
/// <c>GET .../{topic}/messages?partition=&amp;offset=&amp;max=</c> or <c>?from=time</c>: reads one partition without a
/// subscription (nothing is leased or acked). JSON by default: <c>{"messages":[...],"nextOffset":n}</c>; with
/// <c>Accept: text/event-stream</c> an SSE stream that follows the tail, event ids <c>{partition}:{offset}</c> (a
/// reconnect with <c>Last-Event-ID</c> continues after that offset). Records damaged on disk are never served: the read
/// goes on after them and says which offsets it skipped (<c>skipped</c> in JSON, a <c>skipped</c> event in SSE).
/// </summary>
internal static class ReplayEndpoint
{
    public const int DefaultMax = 100;
    public const int MaxMax = 1000;

    /// <summary>4 MiB per read: bounds one answer (and one SSE batch) whatever the message sizes.</summary>
    private const int MaxReadBytes = 4 * 1024 * 1024;

    /// <summary>Damaged ranges one JSON answer steps over before it answers with what it has (each costs a read).</summary>
    private const int MaxSkipsPerAnswer = 16;

    public static void Map(IEndpointRouteBuilder topics)
    {
        topics.MapGet("/{tenant}/{namespace}/{topic}/messages", (Func<HttpContext, Task>)ReadAsync)
            .WithName("Read")
            .WithSummary("Read a partition from an offset (?offset=, default its start) or a time (?from=) without a subscription; Accept: text/event-stream follows the tail")
            .Produces<ReadResponse>().Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
    }

    // A read message's JSON besides its key, value and headers (id, partition, offset, timestamp, encodings, framing).
    private const int MessageJsonBytes = 256;

    private static async Task ReadAsync(HttpContext context)
    {
        var topic = HttpRequestReader.Topic(context);
        var services = context.RequestServices;
        var partitionCount = await services.GetRequiredService<TopicDirectory>().GetPartitionCountAsync(topic, create: false, context.RequestAborted);
        var partition = HttpRequestReader.QueryInt(context, "partition", 0, TopicSettings.MaxPartitions - 1);
        if (partition is null)
        {
            if (partitionCount > 1)
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, $"partition is required: the topic has {partitionCount} partitions (0..{partitionCount - 1})");
            }

            partition = 0;
        }

        if (partition >= partitionCount)
        {
            throw new PartitionNotFoundException(topic, partition.Value, partitionCount);
        }

        var max = HttpRequestReader.QueryInt(context, "max", 1, MaxMax) ?? DefaultMax;
        var sse = WantsEventStream(context);
        var log = services.GetRequiredService<IMessageLog>();
        var offset = await StartOffsetAsync(context, log, topic, partition.Value, sse);
        if (!sse)
        {
            var (read, skipped) = await ReadPastDamageAsync(log, topic, partition.Value, offset, max, context.RequestAborted);
            var messages = new List<ReadMessage>(read.Records.Count);
            long payload = 0;
            foreach (var record in read.Records)
            {
                messages.Add(MessageJson.ToMessage(partition.Value, record));
                payload += record.PayloadBytes();
            }

            context.Response.Headers.CacheControl = "no-store";
            var answer = new ReadResponse(messages, partition.Value, read.NextOffset, read.EndOffset, skipped);
            if ((payload * 2) + (read.Records.Count * MessageJsonBytes) < ResponseFlush.ThresholdBytes)
            {
                // A small read goes into the pipe whole and out in one send (JsonAnswer); a large one flushes as it is
                // written, so it never sits whole in the response's memory. The estimate is generous: base64 makes a
                // payload at most 4/3 its size, and a message's fields besides its payload take well under its share.
                JsonAnswer.Write(context.Response, answer, SluiceJsonContext.Api.ReadResponse);
                return;
            }

            await context.Response.WriteAsJsonAsync(answer, SluiceJsonContext.Api.ReadResponse, cancellationToken: CancellationToken.None);
            return;
        }

        // Check the start before answering 200: an out-of-range offset is a 400, not a broken stream.
        try
        {
            await log.ReadAsync(topic, partition.Value, offset, 1, 1, context.RequestAborted);
        }
        catch (CorruptRecordsException)
        {
            // A valid start: the stream says what it skips.
        }

        using var lease = await services.GetRequiredService<StreamRegistry>().EnterAsync(topic, null, null, context.RequestAborted);
        await FollowAsync(context, lease, log, topic, partition.Value, offset, max);
    }

    // Reads from `offset`; a damaged range in the way is stepped over (and listed), so the answer holds the intact records
    // after it. When only damaged ranges lie ahead, the answer has no messages and a nextOffset past them.
    private static async Task<(ReadResult Read, List<CorruptRangeResponse>? Skipped)> ReadPastDamageAsync(
        IMessageLog log, TopicName topic, int partition, long offset, int max, CancellationToken cancellationToken)
    {
        List<CorruptRangeResponse>? skipped = null;
        for (var skips = 0; ; skips++)
        {
            try
            {
                return (await log.ReadAsync(topic, partition, offset, max, MaxReadBytes, cancellationToken), skipped);
            }
            catch (CorruptRecordsException ex)
            {
                (skipped ??= []).Add(new CorruptRangeResponse(Math.Max(offset, ex.FromOffset), ex.ToOffset, ex.Reason));
                offset = ex.ToOffset;
                if (skips + 1 == MaxSkipsPerAnswer)
                {
                    return (new ReadResult([], offset, offset), skipped);
                }
            }
        }
    }

    private static bool WantsEventStream(HttpContext context)
    {
        foreach (var accept in context.Request.GetTypedHeaders().Accept)
        {
            if (accept.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static async ValueTask<long> StartOffsetAsync(HttpContext context, IMessageLog log, TopicName topic, int partition, bool sse)
    {
        var query = context.Request.Query;
        var hasOffset = query.TryGetValue("offset", out var offsetText);
        var hasFrom = query.TryGetValue("from", out var fromText);
        if (hasOffset && hasFrom)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, "give offset or from, not both");
        }

        var lastId = context.Request.Headers.TryGetValue(SseEndpoint.LastEventIdHeader, out var header) ? header.ToString()
            : query.TryGetValue("lastEventId", out var q) ? q.ToString() : null;
        if (sse && lastId?.Split(':') is [var p, var o]
            && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var lastPartition) && lastPartition == partition
            && long.TryParse(o, NumberStyles.None, CultureInfo.InvariantCulture, out var lastOffset))
        {
            // A reconnect: continue right after the last event received.
            return lastOffset + 1;
        }

        if (hasOffset)
        {
            if (!long.TryParse(offsetText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, $"offset must be an integer >= 0; got '{ProblemWriter.Printable(offsetText.ToString(), 50)}'");
            }

            return offset;
        }

        if (hasFrom)
        {
            var text = fromText.ToString();
            DateTimeOffset time;
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms <= 253402300799999)
            {
                time = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            }
            else if (StreamRequest.ParseTime(text) is { } t)
            {
                time = t;
            }
            else
            {
                throw new ProblemException(ProblemKind.InvalidParameter, $"from must be a time: ISO-8601 such as 2026-01-01T00:00:00Z, or epoch milliseconds; got '{ProblemWriter.Printable(text, 50)}'");
            }

            return await log.FindOffsetAsync(topic, partition, time, context.RequestAborted);
        }

        var info = await log.DescribeTopicAsync(topic, context.RequestAborted) ?? throw new TopicNotFoundException(topic);
        return info.Partitions[partition].StartOffset;
    }

    // Readers fan out: a thousand of them follow one partition and each is woken at every append, so the loop keeps
    // nothing per wait (the registry's clock interrupts it for keep-alives, as it does subscription streams) and writes
    // each record's event from bytes encoded once for all readers.
    private static async Task FollowAsync(HttpContext context, StreamRegistry.StreamLease lease, IMessageLog log, TopicName topic, int partition, long offset, int max)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<ServerOptions>>().Value;
        var aborted = context.RequestAborted;
        var writer = new SseWriter(context, TimeSpan.FromMilliseconds(options.SlowConsumerTimeoutMs), services.GetRequiredService<TimeProvider>());
        var wait = new TailWait();
        lease.EndAlsoOn(aborted, services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

        // Cancelled when the client goes or the server stops: what a read (a Kafka fetch may wait) is cut short by.
        var ending = lease.Ending;
        try
        {
            SseWriter.StartResponse(context);
            writer.WriteRetry(SseEndpoint.RetryMs);
            await writer.FlushAsync();
            lease.KeepAlive(wait);
            while (!lease.IsEnding)
            {
                ReadResult read;
                try
                {
                    read = await log.ReadAsync(topic, partition, offset, max, MaxReadBytes, ending);
                }
                catch (CorruptRecordsException ex)
                {
                    // Its id is the last skipped offset, so a reconnect with Last-Event-ID continues after the damage.
                    var skipped = new CorruptRangeResponse(Math.Max(offset, ex.FromOffset), ex.ToOffset, ex.Reason);
                    writer.WriteEvent($"{partition}:{ex.ToOffset - 1}", "skipped", skipped, SluiceJsonContext.Api.CorruptRangeResponse);
                    await writer.FlushAsync();
                    lease.Active();
                    offset = ex.ToOffset;
                    continue;
                }

                offset = read.NextOffset;
                if (read.Records.Count == 0)
                {
                    // Caught up: wait for the tail (notified, not polled), with a comment now and then for proxies.
                    try
                    {
                        await log.WaitForDataAsync(topic, partition, offset, wait.Token);
                    }
                    catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                    {
                        // Interrupted: a keep-alive is due, or the stream is ending (the loop's test).
                        wait.Reset();
                        if (!lease.IsEnding)
                        {
                            await writer.KeepAliveAsync();
                            lease.Active();
                        }
                    }

                    continue;
                }

                // Records the log keeps for every reader (its tail cache) get their event encoded once for all of them;
                // records decoded for this read alone (a reader catching up, the Kafka backend) are written directly.
                foreach (var record in read.Records)
                {
                    writer.WriteReadEvent(partition, record, share: read.SharedRecords);
                    if (writer.Unflushed >= ResponseFlush.ThresholdBytes)
                    {
                        await writer.FlushAsync();
                        lease.Active();
                    }
                }

                await writer.FlushAsync();
                lease.Active();
            }
        }
        catch (SlowConsumerException)
        {
            // Nothing is leased by a reader: just cut it.
            context.Abort();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || aborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception ex) when (ex is TopicNotFoundException or OffsetOutOfRangeException)
        {
            // Deleted, or retention passed the reader: end the stream; a reconnect gets the problem as an answer.
        }
    }
}
