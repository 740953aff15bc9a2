using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Amqp;

/// <summary>
/// The amqp sink's target: exchange <c>events</c> (direct, declared here: the exchange is the user's), routing key
/// <c>{namespace}.{topic}</c>, and per prepared topic a durable queue bound with that key. Reading drains the queue
/// (basic.get, acked) into a list kept per topic, so every read returns all that arrived, in queue order. RabbitMQ does
/// not deduplicate; each message keeps its message id, so copies are recognisable.
/// </summary>
public sealed class AmqpTarget(RabbitMqServer server) : ISinkTarget
{
    public const string Exchange = "events";

    private readonly ConcurrentDictionary<string, List<AmqpDelivery>> _arrived = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _reading = new(1, 1);
    private IConnection? _connection;

    public IReadOnlyDictionary<string, string> Secrets { get; } = new Dictionary<string, string> { ["amqp"] = server.Password };

    public bool Deduplicates => false;

    /// <summary>Over the server's max_message_size: the broker refuses it for good.</summary>
    public string Poison { get; } = "poison-" + new string('p', RabbitMqServer.MaxMessageSize * 2);

    public RabbitMqServer Server => server;

    /// <summary>The queues read so far.</summary>
    public IEnumerable<string> Queues => _arrived.Keys;

    public static string RoutingKey(string topic)
    {
        var parts = topic.Split('/');
        return $"{parts[1]}.{parts[2]}";
    }

    public JsonObject Sink() => new()
    {
        ["type"] = "amqp",
        ["uri"] = $"amqp://sluice:${{secret:amqp}}@127.0.0.1:{server.Port}/{RabbitMqServer.VirtualHost}",
        ["exchange"] = Exchange,
        ["routingKey"] = "{namespace}.{topic}",
    };

    public async Task PrepareAsync(string topic, string? poison = null)
    {
        await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
        await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Direct, durable: true);
        await BindQueueAsync(channel, Exchange, RoutingKey(topic));
    }

    /// <summary>A durable queue named after the routing key, bound to <paramref name="exchange"/> with it.</summary>
    public async Task BindQueueAsync(string exchange, string routingKey)
    {
        await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
        await BindQueueAsync(channel, exchange, routingKey);
    }

    public async Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic) => [.. (await DeliveriesAsync(RoutingKey(topic))).Select(d => d.Record)];

    /// <summary>Every message that arrived in the queue named <paramref name="queue"/>, with its AMQP properties.</summary>
    public async Task<IReadOnlyList<AmqpDelivery>> DeliveriesAsync(string queue)
    {
        var list = _arrived.GetOrAdd(queue, _ => []);
        await _reading.WaitAsync();
        try
        {
            await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
            while (await channel.BasicGetAsync(queue, autoAck: false) is { } message)
            {
                list.Add(AmqpDelivery.From(message));
                await channel.BasicAckAsync(message.DeliveryTag, multiple: false);
            }
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.OperationInterruptedException or RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException)
        {
            // Broker down, or the queue not declared yet: what arrived so far.
        }
        finally
        {
            _reading.Release();
        }

        return [.. list];
    }

    public async Task StopAsync()
    {
        await CloseConnectionAsync();
        await server.StopAsync();
    }

    public Task StartAsync() => server.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await CloseConnectionAsync();
        await server.DisposeAsync();
    }

    private static async Task BindQueueAsync(IChannel channel, string exchange, string routingKey)
    {
        await channel.QueueDeclareAsync(routingKey, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(routingKey, exchange, routingKey);
    }

    private async Task<IConnection> ConnectionAsync()
    {
        if (_connection is { IsOpen: true } open)
        {
            return open;
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        var factory = new ConnectionFactory { Uri = server.Uri, AutomaticRecoveryEnabled = false };
        return _connection = await factory.CreateConnectionAsync();
    }

    private async Task CloseConnectionAsync()
    {
        if (_connection is not null)
        {
            try
            {
                await _connection.DisposeAsync();
            }
            catch (Exception)
            {
                // Closed already.
            }

            _connection = null;
        }
    }
}

/// <summary>One message as RabbitMQ delivered it: the record it carries and the AMQP properties the sink set.</summary>
public sealed record AmqpDelivery(TargetRecord Record, string? MessageId, bool Persistent, long Timestamp, string? PublishTime, byte[]? Key)
{
    public static AmqpDelivery From(BasicGetResult message)
    {
        var props = message.BasicProperties;
        var amqpHeaders = props.Headers ?? new Dictionary<string, object?>();
        string? Text(string name) => amqpHeaders.TryGetValue(name, out var v) && v is byte[] b ? Encoding.UTF8.GetString(b) : null;
        var headers = amqpHeaders
            .Where(h => !h.Key.StartsWith("sluice-", StringComparison.Ordinal) && h.Value is byte[])
            .ToDictionary(h => h.Key, h => Encoding.UTF8.GetString((byte[])h.Value!));
        var key = amqpHeaders.TryGetValue("sluice-key", out var k) ? k as byte[] : null;
        var record = new TargetRecord(
            Text("sluice-topic") ?? "",
            amqpHeaders.TryGetValue("sluice-partition", out var p) ? Convert.ToInt32(p, System.Globalization.CultureInfo.InvariantCulture) : -1,
            amqpHeaders.TryGetValue("sluice-offset", out var o) ? Convert.ToInt64(o, System.Globalization.CultureInfo.InvariantCulture) : -1,
            key is null ? null : Encoding.UTF8.GetString(key),
            Encoding.UTF8.GetString(message.Body.Span),
            headers);
        return new AmqpDelivery(record, props.MessageId, props.DeliveryMode == DeliveryModes.Persistent, props.Timestamp.UnixTime, Text("sluice-publish-time"), key);
    }
}
