using System.Collections.Concurrent;

namespace Sluice.Server.Clusters;

/// <summary>
/// The loggers of a cluster other than the default: the host's, with the cluster in the category
/// (<c>Sluice.Kafka.KafkaLog@east</c>), so every line its log, engine, webhooks and requests write names it. Filters by
/// category prefix still apply. The host owns the providers; disposing this does nothing.
/// </summary>
internal sealed class ClusterLoggerFactory(ILoggerFactory inner, string cluster) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName)
        => _loggers.GetOrAdd(categoryName, static (category, state) => state.inner.CreateLogger(category + "@" + state.cluster), (inner, cluster));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
    }
}
