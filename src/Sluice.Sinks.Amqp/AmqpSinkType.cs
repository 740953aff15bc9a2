using System.Text;
using RabbitMQ.Client;
using Sluice.Core.Replication;

[assembly: ReplicationSink(typeof(Sluice.Sinks.Amqp.AmqpSinkType))]

namespace Sluice.Sinks.Amqp;

/// <summary>
/// <c>"type": "amqp"</c>: publishes each record to a RabbitMQ exchange (the user's; declared only when
/// <c>exchangeType</c> is given) with a routing key per topic (<c>routingKey</c>, a template), persistent, mandatory,
/// with publisher confirms: a batch counts as written once the broker confirmed every message. The message id is the
/// record's idempotency key.
/// </summary>
public sealed class AmqpSinkType : ReplicationSinkType
{
    // AMQP 0-9-1 shortstr: exchange names and routing keys are at most 255 bytes.
    internal const int MaxShortString = 255;

    public override string Name => "amqp";

    public override string TargetField => "routingKey";

    public override object ReadSettings(SinkSettings settings)
    {
        var uriText = settings.RequiredString("uri");
        Uri? uri = null;
        try
        {
            if (Uri.TryCreate(uriText, UriKind.Absolute, out var parsed) && parsed.Scheme is "amqp" or "amqps")
            {
                // The client's own parsing (host, port, vhost, credentials), so a bad URI fails here and not at the first write.
                _ = new ConnectionFactory { Uri = parsed };
                uri = parsed;
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or UriFormatException)
        {
            // Not the library's message: it may quote the URI, password included.
        }

        if (uri is null)
        {
            SinkSettings.Fail("uri", "must be an amqp:// or amqps:// URI such as amqp://user:${secret:name}@host:5672/vhost");
        }

        // Absent: the default exchange, where the routing key names the queue.
        var exchange = settings.String("exchange") ?? "";
        if (exchange.Length > 0 && ExchangeProblem(exchange) is { } problem)
        {
            SinkSettings.Fail("exchange", problem);
        }

        var exchangeType = settings.OneOf("exchangeType", "direct", "topic", "fanout", "headers");
        if (exchangeType is not null && exchange.Length == 0)
        {
            SinkSettings.Fail("exchangeType", "needs an exchange to declare (the default exchange cannot be declared)");
        }

        if (exchangeType is not null && exchange.StartsWith("amq.", StringComparison.Ordinal))
        {
            SinkSettings.Fail("exchangeType", "must be absent for an amq.* exchange: those are the broker's own and cannot be declared");
        }

        var mandatory = settings.Bool("mandatory") ?? true;
        var timeout = TimeSpan.FromMilliseconds(settings.Integer("timeoutMs", 100, 600_000) ?? 30_000);
        return new AmqpSinkSettings(uri, exchange, exchangeType, mandatory, timeout);
    }

    public override ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult(Encoding.UTF8.GetByteCount(target) > MaxShortString ? $"routing key '{target}' is longer than AMQP's {MaxShortString} bytes" : null);

    public override IReplicationSink CreateSink(object settings, SinkContext context) => new AmqpSink((AmqpSinkSettings)settings, context);

    // RabbitMQ's rule for exchange names: letters, digits, '-', '_', '.' and ':'; 'amq.' is reserved for its own (which
    // may be published to, but not declared).
    private static string? ExchangeProblem(string name)
        => name.Length > MaxShortString || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')
            ? $"must be at most {MaxShortString} letters, digits, '-', '_', '.' or ':'"
            : null;
}

/// <summary>The amqp sink's settings (the URI may hold a resolved secret: never show it).</summary>
internal sealed record AmqpSinkSettings(Uri Uri, string Exchange, string? ExchangeType, bool Mandatory, TimeSpan Timeout);
