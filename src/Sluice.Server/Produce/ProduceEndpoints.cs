using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Topics;

namespace Sluice.Server.Produce;

/// <summary>
/// <c>POST .../messages</c> (one message; the body is the value) and <c>POST .../batch</c> (JSON or NDJSON).
/// <code>
///   body ──► validate (names, partition, size, delivery time) ──► choose partition ──► AppendAsync ──► 200 once durable
///                                                                                  └─► (async=true) 202 at once
///   with a future delivery time: the same, through IDelayService (held until due) ──► 200 with a delayed id
/// </code>
/// </summary>
internal static partial class ProduceEndpoints
{
    public const string HeaderPrefix = "Sluice-Header-";
    public const string KeyHeader = "Sluice-Key";

    /// <summary>Most records in one batch: keeps one request from monopolising a partition's writer.</summary>
    public const int MaxBatchRecords = 10_000;

    public static void Map(IEndpointRouteBuilder topics)
    {
        // Resolved once: RequestServices would create a DI scope per request on the hot path.
        var sp = topics.ServiceProvider;
        var deps = new Dependencies(
            sp.GetRequiredService<IOptions<ServerOptions>>().Value,
            sp.GetRequiredService<TopicDirectory>(),
            sp.GetRequiredService<IMessageLog>(),
            sp.GetRequiredService<Partitioner>(),
            sp.GetRequiredService<SluiceMetrics>(),
            sp.GetRequiredService<PendingAppends>(),
            sp.GetRequiredService<IDelayService>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Produce"));
        topics.MapPost("/{tenant}/{namespace}/{topic}/messages", (Func<HttpContext, Task>)(context => ProduceAsync(context, deps)))
            .WithName("Produce")
            .WithSummary("Publish one message; the body is the value")
            .Produces<ProduceResponse>(StatusCodes.Status200OK)
            .Produces<DelayedProduceResponse>(StatusCodes.Status200OK)
            .Produces<AcceptedResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        topics.MapPost("/{tenant}/{namespace}/{topic}/batch", (Func<HttpContext, Task>)(context => ProduceBatchAsync(context, deps)))
            .WithName("ProduceBatch")
            .WithSummary("Publish a batch (JSON {\"messages\":[...]} or NDJSON), all or nothing")
            .Accepts<BatchRequest>("application/json", BatchBody.NdjsonContentType)
            .Produces<BatchResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
    }

    private static async Task ProduceAsync(HttpContext context, Dependencies deps)
    {
        var options = deps.Options;
        var topic = HttpRequestReader.Topic(context);
        var explicitPartition = HttpRequestReader.QueryInt(context, "partition", 0, TopicSettings.MaxPartitions - 1);
        var isAsync = HttpRequestReader.QueryBool(context, "async");
        var request = context.Request;

        ReadOnlyMemory<byte>? key = null;
        if (request.Query.TryGetValue("key", out var queryKey))
        {
            key = Encoding.UTF8.GetBytes(queryKey.ToString());
        }
        else if (request.Headers.TryGetValue(KeyHeader, out var headerKey))
        {
            key = Encoding.UTF8.GetBytes(headerKey.ToString());
        }

        var headers = ReadHeaders(request);
        var now = deps.Time.GetUtcNow();
        var deliverAt = DeliveryTime.FromRequest(request, now);
        var value = await HttpRequestReader.ReadBodyAsync(context, options.MaxMessageBytes, "the message");

        var directory = deps.Directory;
        var partitionCount = await directory.GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        var partition = ChoosePartition(deps.Partitioner, topic, explicitPartition, key, partitionCount);
        using var send = MessageTracing.StartSend(topic, 1);
        var records = new[] { MessageTracing.WithContext(new RecordToAppend(key, value, headers), send) };
        var log = deps.Log;
        var metrics = deps.Metrics;
        if (deliverAt is { } due && due > now)
        {
            await ProduceDelayedAsync(context, deps, topic, partition, new DelayedRecord(records[0], due), isAsync);
            return;
        }

        if (isAsync)
        {
            deps.Pending.Enter();
            _ = AppendInBackgroundAsync(log, directory, topic, partition, records, metrics, deps.Pending, deps.Logger);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            JsonAnswer.Write(context.Response, new AcceptedResponse(true, partition), SluiceJsonContext.Api.AcceptedResponse);
            return;
        }

        // Once the append has started, finish it even if the client leaves: it may already be written.
        var result = await AppendAsync(log, directory, topic, partition, records, CancellationToken.None);
        metrics.Produced.Add(topic, 1);
        ProduceAnswerWriter.WriteSingle(context.Response, partition, result.BaseOffset, result.Timestamp);
    }

    private static async Task ProduceDelayedAsync(HttpContext context, Dependencies deps, TopicName topic, int partition, DelayedRecord record, bool isAsync)
    {
        if (isAsync)
        {
            deps.Pending.Enter();
            _ = AppendDelayedInBackgroundAsync(deps, topic, partition, record);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            JsonAnswer.Write(context.Response, new AcceptedResponse(true, partition), SluiceJsonContext.Api.AcceptedResponse);
            return;
        }

        var result = await AppendDelayedAsync(deps.Delays, deps.Directory, topic, partition, [record], CancellationToken.None);
        JsonAnswer.Write(context.Response, new DelayedProduceResponse(result.Ids[0], partition, record.DeliverAt), SluiceJsonContext.Api.DelayedProduceResponse);
    }

    private static async Task ProduceBatchAsync(HttpContext context, Dependencies deps)
    {
        var options = deps.Options;
        var topic = HttpRequestReader.Topic(context);
        var explicitPartition = HttpRequestReader.QueryInt(context, "partition", 0, TopicSettings.MaxPartitions - 1);
        // Pooled, and back in the pool as soon as it is parsed: the parse copies every value out, and a buffer held over
        // the append (the fsync) by each of many concurrent batches overflows the pool, whose misses are large-object allocations.
        List<BatchRecord> parsed;
        using (var body = await HttpRequestReader.ReadPooledBodyAsync(context, options.MaxBatchBytes, "the batch"))
        {
            parsed = BatchBody.Parse(context.Request.ContentType, body.Span);
        }

        if (parsed.Count == 0)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, "the batch holds no records; send {\"messages\":[{\"value\":\"...\"}]} or one JSON record per NDJSON line");
        }

        if (parsed.Count > MaxBatchRecords)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"the batch holds {parsed.Count} records; the most is {MaxBatchRecords}");
        }

        // Validate every record before appending anything: a batch is all or nothing.
        var directory = deps.Directory;
        var records = new RecordToAppend[parsed.Count];
        var now = deps.Time.GetUtcNow();
        DateTimeOffset?[]? deliverAt = null;
        for (var i = 0; i < parsed.Count; i++)
        {
            records[i] = ToRecord(parsed[i], i, options.MaxMessageBytes);
            if (parsed[i].Partition is { } p && (p < 0 || p >= TopicSettings.MaxPartitions))
            {
                ProblemException.Throw(ProblemKind.InvalidParameter, $"record {i}: partition must be between 0 and {TopicSettings.MaxPartitions - 1}; got {p}");
            }

            if (parsed[i].DeliverAt is not null || parsed[i].DeliverAfterMs is not null)
            {
                var due = DeliveryTime.FromJson(parsed[i].DeliverAt, parsed[i].DeliverAfterMs, now, $"record {i}: ", out var error);
                if (error is not null)
                {
                    ProblemException.Throw(ProblemKind.InvalidParameter, error);
                }

                if (due > now)
                {
                    (deliverAt ??= new DateTimeOffset?[parsed.Count])[i] = due;
                }
            }
        }

        using var send = MessageTracing.StartSend(topic, records.Length);
        for (var i = 0; send is not null && i < records.Length; i++)
        {
            records[i] = MessageTracing.WithContext(records[i], send);
        }

        var partitionCount = await directory.GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        // Sticky batching: the keyless records of one request share one partition (the next round-robin one),
        // so a batch costs one append and one group commit instead of one per partition.
        var partitions = new int[records.Length];
        int? sticky = null;
        for (var i = 0; i < records.Length; i++)
        {
            var chosen = parsed[i].Partition ?? explicitPartition;
            if (chosen is null && records[i].Key is null)
            {
                sticky ??= ChoosePartition(deps.Partitioner, topic, null, null, partitionCount);
                partitions[i] = sticky.Value;
                continue;
            }

            partitions[i] = ChoosePartition(deps.Partitioner, topic, chosen, records[i].Key, partitionCount);
        }

        var log = deps.Log;
        if (deliverAt is null && AllEqual(partitions))
        {
            // The usual case (keyless records, or one key or partition, nothing delayed): one append of the records as
            // they are, and the answer written without an object per record.
            var (partition, count) = (partitions[0], records.Length);
            var append = AppendAsync(log, directory, topic, partition, records, CancellationToken.None);

            // The records are encoded into the log's buffer by now. This method's locals live in its state machine across
            // the await: dropped here, or every record (its value included) would live through the group commit's fsync.
            // Whatever is needed after the await is taken out above.
            (parsed, records, partitions) = (null!, null!, null!);
            var result = await append;
            deps.Metrics.Produced.Add(topic, count);
            ProduceAnswerWriter.WriteBatch(context.Response, partition, result.BaseOffset, count);
            return;
        }

        // One append per partition (and, for delayed records, one to the partition's holding partition), in request
        // order within it; partitions are appended concurrently.
        var groups = new Dictionary<(int Partition, bool Delayed), List<int>>();
        for (var i = 0; i < records.Length; i++)
        {
            var group = (partitions[i], deliverAt?[i] is not null);
            if (!groups.TryGetValue(group, out var indexes))
            {
                groups[group] = indexes = [];
            }

            indexes.Add(i);
        }

        var tasks = new List<Task>(groups.Count);
        foreach (var ((partition, delayed), indexes) in groups)
        {
            if (delayed)
            {
                var held = new DelayedRecord[indexes.Count];
                for (var j = 0; j < indexes.Count; j++)
                {
                    held[j] = new DelayedRecord(records[indexes[j]], deliverAt![indexes[j]]!.Value);
                }

                tasks.Add(AppendDelayedAsync(deps.Delays, deps.Directory, topic, partition, held, CancellationToken.None).AsTask());
                continue;
            }

            var group = new RecordToAppend[indexes.Count];
            for (var j = 0; j < indexes.Count; j++)
            {
                group[j] = records[indexes[j]];
            }

            tasks.Add(AppendAsync(log, directory, topic, partition, group, CancellationToken.None).AsTask());
        }

        // As in the one-append case above: the appends hold what they still need; the records need not outlive the fsync.
        var total = records.Length;
        (parsed, records, partitions) = (null!, null!, null!);
        await Task.WhenAll(tasks);
        var results = new BatchResult[total];
        var t = 0;
        foreach (var ((partition, delayed), indexes) in groups)
        {
            var task = tasks[t++];
            if (delayed)
            {
                var ids = ((Task<DelayedAppendResult>)task).Result.Ids;
                for (var j = 0; j < indexes.Count; j++)
                {
                    results[indexes[j]] = new BatchResult(ids[j], partition, null, deliverAt![indexes[j]]);
                }

                continue;
            }

            var baseOffset = ((Task<AppendResult>)task).Result.BaseOffset;
            for (var j = 0; j < indexes.Count; j++)
            {
                var offset = baseOffset + j;
                results[indexes[j]] = new BatchResult(MessageId(partition, offset), partition, offset);
            }
        }

        // Delayed records count when they are delivered (sluice.delay.fired), not here.
        deps.Metrics.Produced.Add(topic, total - (deliverAt?.Count(d => d is not null) ?? 0));
        JsonAnswer.Write(context.Response, new BatchResponse([.. results]), SluiceJsonContext.Api.BatchResponse);
    }

    private static bool AllEqual(int[] values)
    {
        foreach (var v in values)
        {
            if (v != values[0])
            {
                return false;
            }
        }

        return true;
    }

    private static RecordToAppend ToRecord(BatchRecord record, int index, int maxMessageBytes)
    {
        if (record is null)
        {
            ProblemException.Throw(ProblemKind.MalformedJson, $"record {index} is null; each record must be an object such as {{\"value\":\"...\"}}");
        }

        byte[]? value;
        var hasValue = record.Value is not null;
        if (hasValue && record.ValueBase64 is not null)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"record {index} has both value and valueBase64; give exactly one");
        }

        if (record.ValueBase64 is { } base64)
        {
            try
            {
                value = Convert.FromBase64String(base64);
            }
            catch (FormatException)
            {
                throw new ProblemException(ProblemKind.InvalidBase64, $"record {index}: valueBase64 is not valid base64 (RFC 4648, with padding)");
            }
        }
        else if (hasValue)
        {
            value = record.Value!.Bytes;
        }
        else
        {
            throw new ProblemException(ProblemKind.InvalidParameter, $"record {index} has neither value nor valueBase64; give one (\"value\": null for a tombstone)");
        }

        if (value is not null && value.Length > maxMessageBytes)
        {
            ProblemException.Throw(ProblemKind.MessageTooLarge, $"record {index} has a value of {value.Length} bytes; the most this server accepts is {maxMessageBytes} bytes");
        }

        List<KeyValuePair<string, string>>? headers = null;
        if (record.Headers is { Count: > 0 })
        {
            headers = new List<KeyValuePair<string, string>>(record.Headers.Count);
            foreach (var (name, headerValue) in record.Headers)
            {
                if (name.Length == 0 || ContainsControl(name) || headerValue is null || ContainsControl(headerValue))
                {
                    ProblemException.Throw(ProblemKind.InvalidParameter, $"record {index}: header names must be non-empty and header names and values must be strings without control characters");
                }

                headers.Add(new(name, headerValue));
            }
        }

        return new RecordToAppend(KeyBytes(record.Key), value, headers);
    }

    /// <summary>A key as stored: its UTF-8, or no key (never an empty one) when there is none.</summary>
    // The cast matters: "key is null ? null : bytes" has the type byte[], and a null byte[] converts to an empty key.
    internal static ReadOnlyMemory<byte>? KeyBytes(string? key) => key is null ? (ReadOnlyMemory<byte>?)null : Encoding.UTF8.GetBytes(key);

    private static List<KeyValuePair<string, string>>? ReadHeaders(HttpRequest request)
    {
        List<KeyValuePair<string, string>>? headers = null;
        if (request.ContentType is { Length: > 0 } contentType)
        {
            headers = [new("content-type", contentType)];
        }

        foreach (var header in request.Headers)
        {
            if (header.Key.Length > HeaderPrefix.Length && header.Key.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase))
            {
                headers ??= [];
                headers.Add(new(header.Key[HeaderPrefix.Length..], header.Value.ToString()));
            }
        }

        return headers;
    }

    private static int ChoosePartition(Partitioner partitioner, TopicName topic, int? explicitPartition, ReadOnlyMemory<byte>? key, int partitionCount)
    {
        if (explicitPartition is { } p)
        {
            if (p >= partitionCount)
            {
                throw new PartitionNotFoundException(topic, p, partitionCount);
            }

            return p;
        }

        return partitioner.Choose(key is { } k ? k.Span : default, key.HasValue, partitionCount);
    }

    /// <summary>
    /// Appends (a topic or partition found gone is forgotten); every API's produce. Not an async method: the log encodes the
    /// records before it returns, so the wait for the group commit holds only the pending result. An async method would keep
    /// its <paramref name="records"/> argument alive through the fsync, and a 1,000-record batch held that long survives
    /// the collections that happen meanwhile (measured: 20 gen1 collections and 17% of the time paused, per second of batch load).
    /// </summary>
    internal static ValueTask<AppendResult> AppendAsync(IMessageLog log, TopicDirectory directory, TopicName topic, int partition, RecordToAppend[] records, CancellationToken cancellationToken)
    {
        try
        {
            return ForgetIfGone(log.AppendAsync(topic, partition, records, cancellationToken), directory, topic);
        }
        catch (Exception ex)
        {
            return Failed<AppendResult>(ex, directory, topic);
        }
    }

    /// <summary>Holds delayed records as <see cref="AppendAsync"/> appends (a topic found gone is forgotten, the records not kept through the wait); every API's delayed produce.</summary>
    internal static ValueTask<DelayedAppendResult> AppendDelayedAsync(IDelayService delays, TopicDirectory directory, TopicName topic, int partition, DelayedRecord[] records, CancellationToken cancellationToken)
    {
        try
        {
            return ForgetIfGone(delays.AppendAsync(topic, partition, records, cancellationToken), directory, topic);
        }
        catch (Exception ex)
        {
            return Failed<DelayedAppendResult>(ex, directory, topic);
        }
    }

    // The wait of an append already started: only its pending result is held, not what it was given.
    private static ValueTask<T> ForgetIfGone<T>(ValueTask<T> pending, TopicDirectory directory, TopicName topic)
        => pending.IsCompletedSuccessfully ? pending : AwaitForgettingIfGoneAsync(pending, directory, topic);

    private static async ValueTask<T> AwaitForgettingIfGoneAsync<T>(ValueTask<T> pending, TopicDirectory directory, TopicName topic)
    {
        try
        {
            return await pending;
        }
        catch (Exception ex) when (IsGone(ex))
        {
            directory.Forget(topic);
            throw;
        }
    }

    // An append that threw before it started: a faulted result, as an async method would give (callers start several
    // appends before awaiting any).
    private static ValueTask<T> Failed<T>(Exception ex, TopicDirectory directory, TopicName topic)
    {
        if (IsGone(ex))
        {
            directory.Forget(topic);
        }

        return ValueTask.FromException<T>(ex);
    }

    /// <summary>The append found its topic or partition gone: the directory's cached partition count is stale.</summary>
    private static bool IsGone(Exception ex) => ex is TopicNotFoundException or PartitionNotFoundException;

    private static async Task AppendDelayedInBackgroundAsync(Dependencies deps, TopicName topic, int partition, DelayedRecord record)
    {
        try
        {
            await AppendDelayedAsync(deps.Delays, deps.Directory, topic, partition, [record], CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.AsyncProduceFailed(deps.Logger, topic.ToString(), partition, ex);
        }
        finally
        {
            deps.Pending.Exit();
        }
    }

    internal static async Task AppendInBackgroundAsync(IMessageLog log, TopicDirectory directory, TopicName topic, int partition, RecordToAppend[] records, SluiceMetrics metrics, PendingAppends pending, ILogger logger)
    {
        try
        {
            await AppendAsync(log, directory, topic, partition, records, CancellationToken.None);
            metrics.Produced.Add(topic, records.Length);
        }
        catch (Exception ex)
        {
            Log.AsyncProduceFailed(logger, topic.ToString(), partition, ex);
        }
        finally
        {
            pending.Exit();
        }
    }

    private static bool ContainsControl(string s)
    {
        foreach (var c in s)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    private static string MessageId(int partition, long offset) => string.Create(null, stackalloc char[32], $"{partition}:{offset}");

    private sealed record Dependencies(
        ServerOptions Options,
        TopicDirectory Directory,
        IMessageLog Log,
        Partitioner Partitioner,
        SluiceMetrics Metrics,
        PendingAppends Pending,
        IDelayService Delays,
        TimeProvider Time,
        ILogger Logger);

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.AsyncProduceFailed, Level = LogLevel.Error, Message = "An async produce to {Topic} partition {Partition} failed after it was answered 202")]
        public static partial void AsyncProduceFailed(ILogger logger, string topic, int partition, Exception exception);
    }
}
