using System.Globalization;
using System.Text;
using RabbitMQ.Client;
using Sluice.Replication.Tests.Amqp;

namespace Sluice.Bench.Replication;

/// <summary>
/// The amqp sink's target for the bench and its plain-client baseline: a durable direct exchange and, per run, a durable
/// queue bound with the run's routing key (deleted after the run, so the broker does not carry 100 MB per run). The
/// baseline publishes what the sink publishes (persistent, message id, the record's headers plus Sluice's, key) in
/// batches with publisher confirms, one channel per partition, from records already in memory.
/// </summary>
internal sealed class AmqpBaseline(RabbitMqServer server) : IAsyncDisposable
{
    public const string Exchange = "bench";

    private IConnection? _connection;

    public async Task PrepareAsync(string routingKey)
    {
        await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
        await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Direct, durable: true);
        await channel.QueueDeclareAsync(routingKey, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(routingKey, Exchange, routingKey);
    }

    public async Task DeleteAsync(string routingKey)
    {
        await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
        await channel.QueueDeleteAsync(routingKey);
    }

    public async Task<RunRate> PlainAsync(string routingKey, int records, int partitions, int batch, Func<int, byte[]> value, CancellationToken cancellationToken)
    {
        await PrepareAsync(routingKey);
        var connection = await ConnectionAsync();
        var clock = new RunClock();
        await Task.WhenAll(Enumerable.Range(0, partitions).Select(async p =>
        {
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true, outstandingPublisherConfirmationsRateLimiter: null), cancellationToken);
            for (var start = 0; start < records / partitions; start += batch)
            {
                var n = Math.Min(batch, (records / partitions) - start);
                var confirms = new List<Task>(n);
                for (var offset = start; offset < start + n; offset++)
                {
                    var i = (offset * partitions) + p;
                    var now = DateTimeOffset.UtcNow;
                    var props = new BasicProperties
                    {
                        DeliveryMode = DeliveryModes.Persistent,
                        MessageId = $"bench/repl/source/{p}/{offset}",
                        Timestamp = new AmqpTimestamp(now.ToUnixTimeSeconds()),
                        Headers = new Dictionary<string, object?>
                        {
                            ["n"] = i.ToString(CultureInfo.InvariantCulture),
                            ["sluice-topic"] = "bench/repl/source",
                            ["sluice-partition"] = p,
                            ["sluice-offset"] = (long)offset,
                            ["sluice-publish-time"] = now.ToString("O", CultureInfo.InvariantCulture),
                            ["sluice-key"] = Encoding.ASCII.GetBytes($"k{i}"),
                        },
                    };
                    confirms.Add(channel.BasicPublishAsync(Exchange, routingKey, mandatory: true, props, value(i), cancellationToken).AsTask());
                }

                await Task.WhenAll(confirms);
                clock.Done(n);
            }
        }));
        var rate = clock.Finish(records);
        await DeleteAsync(routingKey);
        return rate;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }

    private async Task<IConnection> ConnectionAsync()
        => _connection ??= await new ConnectionFactory { Uri = server.Uri, AutomaticRecoveryEnabled = false }.CreateConnectionAsync();
}
