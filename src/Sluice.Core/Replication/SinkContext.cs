using Microsoft.Extensions.Logging;

namespace Sluice.Core.Replication;

/// <summary>What a sink gets from the gateway when it is created or checks a target.</summary>
public sealed class SinkContext(string replicator, IServiceProvider services, ILogger logger, TimeProvider time)
{
    /// <summary>The replicator's name.</summary>
    public string Replicator { get; } = replicator;

    /// <summary>The gateway's services (for example <see cref="IOutboundAddressPolicy"/>).</summary>
    public IServiceProvider Services { get; } = services;

    /// <summary>
    /// A logger for the sink. Never log a setting that may hold a secret (a connection string, a URL with credentials),
    /// nor a client library's exception as it is: its message may quote them.
    /// </summary>
    public ILogger Logger { get; } = logger;

    public TimeProvider Time { get; } = time;
}
