using System.Text;
using System.Text.RegularExpressions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Nats;

/// <summary>
/// Publishes a batch to JetStream all at once (in order on one connection), then reads the acknowledgements in order; the
/// records acknowledged before the first failure count as written.
/// <code>
///   every ack (duplicate ones too) ──────────────────────────► written
///   ack error 10054 "message size exceeds maximum" ───────────► refused (that record; the rest again)
///   larger than the server's max_payload (client refuses) ────► refused
///   other ack error, no responders (no stream), no ack in time,
///   connection lost ──────────────────────────────────────────► retry  (the re-sent records are deduplicated by Nats-Msg-Id)
/// </code>
/// </summary>
internal sealed partial class NatsSink : IReplicationSink
{
    // JSStreamMessageExceedsMaximumErr: the stream's max_msg_size (or the account's) refuses this message for good.
    private const int MessageTooLarge = 10054;

    private readonly NatsSinkSettings _settings;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly NatsStreams? _streams;
    private readonly TimeProvider _time;

    public NatsSink(NatsSinkSettings settings, SinkContext context)
    {
        _settings = settings;
        _time = context.Time;
        var opts = NatsOpts.Default with
        {
            Url = settings.Url,
            Name = "sluice replicator " + context.Replicator,

            // Record headers are Unicode text; NATS carries header bytes as they are.
            HeaderEncoding = Encoding.UTF8,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            RequestTimeout = settings.Timeout,
        };
        _connection = new NatsConnection(opts);
        _js = new NatsJSContext(_connection, new NatsJSOpts(opts));
        _streams = settings.Stream is { } stream ? new NatsStreams(_js, stream, context) : null;
        Endpoint = string.Join(",", settings.Url.Split(',').Select(u => Uri.TryCreate(u.Trim(), UriKind.Absolute, out var uri) ? $"{uri.Host}:{(uri.IsDefaultPort ? 4222 : uri.Port)}" : "?"));
    }

    /// <summary>host:port of the servers, for messages (never the URL: it may hold credentials).</summary>
    private string Endpoint { get; }

    public async ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        var records = batch.Records;
        var sendable = NatsMessage.Sendable(records, out var unsendable);
        using var timeout = new CancellationTokenSource(_settings.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var futures = new List<NatsJSPublishConcurrentFuture>(sendable);
        (int Index, SinkWriteResult Result)? failure = null;
        try
        {
            if (_streams is not null && sendable > 0)
            {
                await _streams.EnsureCoversAsync(batch.Target, linked.Token).ConfigureAwait(false);
            }

            for (var i = 0; i < sendable; i++)
            {
                var record = records[i];
                futures.Add(await _js.PublishConcurrentAsync(
                    batch.Target,
                    record.Value ?? ReadOnlyMemory<byte>.Empty,
                    NatsRawSerializer<ReadOnlyMemory<byte>>.Default,
                    new NatsJSPubOpts { MsgId = record.IdempotencyKey },
                    NatsMessage.Headers(record),
                    linked.Token).ConfigureAwait(false));
            }
        }
        catch (NatsPayloadTooLargeException ex)
        {
            failure = (futures.Count, SinkWriteResult.Refused($"too large for NATS: {ex.Message}", futures.Count));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            failure = (futures.Count, Retry(ex, batch.Target, timeout.IsCancellationRequested));
        }

        // The acknowledgements in order; every future is read and disposed, whatever came first.
        for (var i = 0; i < futures.Count; i++)
        {
            await using var future = futures[i];
            try
            {
                var ack = await future.GetResponseAsync(linked.Token).ConfigureAwait(false);
                if (ack.Error is { } error && (failure is null || failure.Value.Index > i))
                {
                    var reason = $"NATS JetStream {error.Code}/{error.ErrCode}: {error.Description}";
                    failure = (i, error.ErrCode == MessageTooLarge ? SinkWriteResult.Refused(reason, i) : SinkWriteResult.Retry(reason));
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (failure is null || failure.Value.Index > i))
            {
                failure = (i, Retry(ex, batch.Target, timeout.IsCancellationRequested));
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // After the first failure: only observed.
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (failure is null)
        {
            return sendable == records.Count ? SinkWriteResult.Written : SinkWriteResult.Refused(unsendable!, sendable, acknowledged: sendable);
        }

        var (index, result) = failure.Value;
        return result.Outcome == SinkWriteOutcome.Refused
            ? SinkWriteResult.Refused(result.Error!, result.RefusedIndex, acknowledged: index)
            : SinkWriteResult.Retry(result.Error!, acknowledged: index);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private SinkWriteResult Retry(Exception error, string subject, bool timedOut) => SinkWriteResult.Retry(error switch
    {
        NatsNoRespondersException => $"no JetStream stream captures subject '{subject}' (no responders); create one, or set the sink's stream",
        NatsJSPublishNoResponseException or NatsNoReplyException => $"no acknowledgement from NATS JetStream at {Endpoint} for subject '{subject}'",
        OperationCanceledException when timedOut => $"no acknowledgement from NATS JetStream at {Endpoint} within {(long)_settings.Timeout.TotalMilliseconds} ms",
        NatsJSApiException api => $"NATS JetStream {api.Error.Code}/{api.Error.ErrCode}: {api.Error.Description}",
        _ => $"NATS at {Endpoint}: {Innermost(error)}",
    });

    private static string Innermost(Exception error)
    {
        while (error.InnerException is { } inner)
        {
            error = inner;
        }

        // "can not connect uris: nats://user:password@host": the credentials go.
        return Credentials().Replace(error.Message, "//***@");
    }

    [GeneratedRegex(@"//[^/@\s,]+@")]
    private static partial Regex Credentials();
}
