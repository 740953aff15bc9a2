using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Amqp;

/// <summary>
/// One connection per replicator and a pool of confirm-mode channels on it, one per batch in flight: batches of different
/// partitions are written in parallel without sharing a channel, so a channel the broker closes (a message too large, an
/// exchange that does not exist) fails only its own batch. The client's automatic recovery is off: a closed connection
/// or channel is replaced at the next write, which the engine's retry brings.
/// </summary>
internal sealed partial class AmqpChannels : IAsyncDisposable
{
    private readonly AmqpSinkSettings _settings;
    private readonly ILogger _logger;
    private readonly string _replicator;
    private readonly ConnectionFactory _factory;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly ConcurrentBag<IChannel> _idle = [];
    private IConnection? _connection;
    private IConnection? _declaredOn;
    private bool _disposed;

    public AmqpChannels(AmqpSinkSettings settings, SinkContext context)
    {
        _settings = settings;
        _logger = context.Logger;
        _replicator = context.Replicator;
        _factory = new ConnectionFactory
        {
            Uri = settings.Uri,
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            ClientProvidedName = "sluice replicator " + context.Replicator,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>host:port of the broker, for messages (never the URI: it holds the credentials).</summary>
    public string Endpoint => $"{_settings.Uri.Host}:{(_settings.Uri.IsDefaultPort ? (_settings.Uri.Scheme == "amqps" ? 5671 : 5672) : _settings.Uri.Port)}";

    /// <summary>An open channel in confirm mode, the exchange declared on this connection when the settings ask for it.</summary>
    public async Task<IChannel> RentAsync(CancellationToken cancellationToken)
    {
        while (_idle.TryTake(out var idle))
        {
            if (idle.IsOpen)
            {
                return idle;
            }

            await CloseQuietlyAsync(idle).ConfigureAwait(false);
        }

        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);

        // No rate limiter: the batch bounds the confirms outstanding, and the client's default throttle would delay
        // (and could reorder) the publishes of a batch.
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true, outstandingPublisherConfirmationsRateLimiter: null), cancellationToken).ConfigureAwait(false);
        if (_settings.ExchangeType is { } type && !ReferenceEquals(Volatile.Read(ref _declaredOn), connection))
        {
            try
            {
                await channel.ExchangeDeclareAsync(_settings.Exchange, type, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await CloseQuietlyAsync(channel).ConfigureAwait(false);
                throw;
            }

            Volatile.Write(ref _declaredOn, connection);
            Log.ExchangeDeclared(_logger, _replicator, _settings.Exchange, type);
        }

        return channel;
    }

    /// <summary>Gives a channel back after a batch: kept when still open and in a known state, closed otherwise.</summary>
    public async ValueTask ReturnAsync(IChannel channel, bool reusable)
    {
        if (reusable && channel.IsOpen && !Volatile.Read(ref _disposed))
        {
            _idle.Add(channel);
            return;
        }

        await CloseQuietlyAsync(channel).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, true);
        while (_idle.TryTake(out var channel))
        {
            await CloseQuietlyAsync(channel).ConfigureAwait(false);
        }

        if (_connection is { } connection)
        {
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
        }

        _connecting.Dispose();
    }

    private async Task<IConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is { IsOpen: true } open)
        {
            return open;
        }

        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is { IsOpen: true } current)
            {
                return current;
            }

            if (_connection is { } closed)
            {
                _connection = null;
                await CloseQuietlyAsync(closed).ConfigureAwait(false);
            }

            var connection = await _factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            connection.ConnectionShutdownAsync += OnShutdownAsync;
            Volatile.Write(ref _connection, connection);
            Log.Connected(_logger, _replicator, Endpoint);
            return connection;
        }
        finally
        {
            _connecting.Release();
        }
    }

    private Task OnShutdownAsync(object sender, ShutdownEventArgs e)
    {
        if (e.Initiator != ShutdownInitiator.Application)
        {
            // Reply code and text are the broker's or the socket's ("CONNECTION_FORCED - broker forced connection closure").
            Log.ConnectionLost(_logger, _replicator, Endpoint, e.ReplyCode, e.ReplyText);
        }

        return Task.CompletedTask;
    }

    private static async ValueTask CloseQuietlyAsync(IChannel channel)
    {
        try
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already closed by the broker or with its connection: nothing left to release.
        }
    }

    private static async ValueTask CloseQuietlyAsync(IConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The socket is gone already.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AmqpEventIds.Connected, Level = LogLevel.Information, Message = "Replicator {Replicator}: connected to RabbitMQ at {Endpoint}")]
        public static partial void Connected(ILogger logger, string replicator, string endpoint);

        [LoggerMessage(EventId = AmqpEventIds.ConnectionLost, Level = LogLevel.Warning, Message = "Replicator {Replicator}: connection to RabbitMQ at {Endpoint} closed: {Code} {Reason}; reconnecting at the next write")]
        public static partial void ConnectionLost(ILogger logger, string replicator, string endpoint, ushort code, string reason);

        [LoggerMessage(EventId = AmqpEventIds.ExchangeDeclared, Level = LogLevel.Information, Message = "Replicator {Replicator}: declared exchange '{Exchange}' ({Type}, durable)")]
        public static partial void ExchangeDeclared(ILogger logger, string replicator, string exchange, string type);
    }
}
