using System.Globalization;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Amqp;

/// <summary>
/// Publishes a batch on one confirm-mode channel, every message at once, then waits for the confirms in order; the
/// records confirmed before the first failure count as written.
/// <code>
///   all confirmed ───────────────────────────────────────────► written
///   nack (a queue refused it: full with reject-publish, down) ─► retry
///   returned unroutable (mandatory: no queue bound) ──────────► retry  (nothing is dropped; bind a queue, or mandatory: false)
///   channel closed 406 "larger than configured max size" ─────► refused (that record; the rest again)
///   other channel or connection close, no confirm in time ────► retry  (404 no exchange, 403, broker down)
/// </code>
/// RabbitMQ does not deduplicate: a batch written again after a failure or a crash may leave copies of records that were
/// in before it; each copy carries the same message id.
/// </summary>
internal sealed partial class AmqpSink(AmqpSinkSettings settings, SinkContext context) : IReplicationSink
{
    private readonly AmqpChannels _channels = new(settings, context);

    public async ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        var records = batch.Records;
        var sendable = AmqpMessage.Sendable(records, out var unsendable);
        using var timeout = new CancellationTokenSource(settings.Timeout, context.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var confirms = new List<Task>(sendable);
        IChannel? channel = null;
        Exception? failure = null;
        try
        {
            if (sendable > 0)
            {
                channel = await _channels.RentAsync(linked.Token).ConfigureAwait(false);
                for (var i = 0; i < sendable; i++)
                {
                    var record = records[i];
                    confirms.Add(channel.BasicPublishAsync(settings.Exchange, batch.Target, settings.Mandatory, AmqpMessage.Properties(record), record.Value ?? ReadOnlyMemory<byte>.Empty, linked.Token).AsTask());
                }
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        // The confirms in order: the prefix the broker confirmed is written, whatever happened after it. Every task is
        // awaited, so none is left unobserved; they all end by the timeout at the latest.
        var confirmed = 0;
        Exception? first = null;
        foreach (var confirm in confirms)
        {
            try
            {
                await confirm.ConfigureAwait(false);
                confirmed += first is null ? 1 : 0;
            }
            catch (Exception ex)
            {
                first ??= ex;
            }
        }

        first ??= failure;
        if (channel is not null)
        {
            // A nack or a return leaves the channel as it was; anything else (closed, confirms still outstanding) does not.
            await _channels.ReturnAsync(channel, reusable: first is null or PublishException).ConfigureAwait(false);
        }

        if (first is null)
        {
            return sendable == records.Count ? SinkWriteResult.Written : SinkWriteResult.Refused(unsendable!, sendable, acknowledged: sendable);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return timeout.IsCancellationRequested && first is OperationCanceledException
            ? SinkWriteResult.Retry($"no publisher confirm from RabbitMQ within {(long)settings.Timeout.TotalMilliseconds} ms", acknowledged: confirmed)
            : Classify(first, channel?.CloseReason, records, confirmed);
    }

    public ValueTask DisposeAsync() => _channels.DisposeAsync();

    private SinkWriteResult Classify(Exception error, ShutdownEventArgs? channelClosed, IReadOnlyList<SinkRecord> records, int confirmed)
    {
        switch (error)
        {
            case PublishReturnException returned:
                return SinkWriteResult.Retry(
                    $"unroutable: exchange '{Exchange}' has no queue bound for routing key '{returned.RoutingKey}' ({returned.ReplyCode} {returned.ReplyText}); " +
                    "bind one, or set mandatory to false to let the broker drop such messages",
                    acknowledged: confirmed);
            case PublishException:
                return SinkWriteResult.Retry("RabbitMQ refused to take a message (nack: a queue is full with overflow reject-publish, or unavailable)", acknowledged: confirmed);
        }

        // AlreadyClosedException is one too: the channel was closed before the publish.
        var closed = (error as OperationInterruptedException)?.ShutdownReason ?? channelClosed;

        if (closed is { ReplyCode: 406 } && TooLarge().Match(closed.ReplyText) is { Success: true } match
            && long.TryParse(match.Groups["max"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var max))
        {
            // The broker closed the channel at the first message over its max_message_size: find it by its body size.
            for (var i = confirmed; i < records.Count; i++)
            {
                if ((records[i].Value?.Length ?? 0) > max)
                {
                    return SinkWriteResult.Refused($"too large for RabbitMQ: {records[i].Value!.Value.Length} bytes, its max_message_size is {max}", i, acknowledged: confirmed);
                }
            }

            return SinkWriteResult.Refused($"RabbitMQ {closed.ReplyCode}: {closed.ReplyText}", acknowledged: confirmed);
        }

        if (closed is not null && closed.Initiator != ShutdownInitiator.Application)
        {
            return SinkWriteResult.Retry($"RabbitMQ at {_channels.Endpoint} closed the {(closed.ClassId == 10 ? "connection" : "channel")}: {closed.ReplyCode} {closed.ReplyText}", acknowledged: confirmed);
        }

        return SinkWriteResult.Retry(Describe(error), acknowledged: confirmed);
    }

    private string Exchange => settings.Exchange.Length == 0 ? "(default)" : settings.Exchange;

    // The client's messages name endpoints and AMQP reply texts, never the URI; the innermost socket error says most.
    private string Describe(Exception error) => error switch
    {
        BrokerUnreachableException unreachable => $"cannot connect to RabbitMQ at {_channels.Endpoint}: {Innermost(unreachable)}",
        AuthenticationFailureException => $"RabbitMQ at {_channels.Endpoint} refused the login (user or password in the uri)",
        SocketException or IOException => $"connection to RabbitMQ at {_channels.Endpoint} failed: {Innermost(error)}",
        OperationCanceledException => $"RabbitMQ at {_channels.Endpoint} did not answer in time",
        _ => $"RabbitMQ at {_channels.Endpoint}: {error.GetType().Name}: {Innermost(error)}",
    };

    private static string Innermost(Exception error)
    {
        while (error.InnerException is { } inner)
        {
            error = inner;
        }

        // Should a message ever quote a URI, its credentials go.
        return Credentials().Replace(error.Message, "//***@");
    }

    [GeneratedRegex(@"//[^/@\s]+@")]
    private static partial Regex Credentials();

    // rabbit_channel: "message size 16384 is larger than configured max size 8192".
    [GeneratedRegex(@"larger than configured max size (?<max>\d+)")]
    private static partial Regex TooLarge();
}
