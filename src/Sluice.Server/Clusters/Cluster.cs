namespace Sluice.Server.Clusters;

/// <summary>
/// One served backend: a name clients use (<c>/v1/clusters/{name}</c>, Kafka-Pixy's <c>cluster</c>) and its own log,
/// engine, webhooks, replicators and the rest (<see cref="ClusterServices"/>). The default cluster's services are the
/// host's own; another's are a <see cref="ClusterServiceProvider"/>.
/// </summary>
internal sealed class Cluster(string name, IServiceProvider services, ClusterServiceProvider? own)
{
    public string Name { get; } = name;

    public bool IsDefault => Own is null;

    /// <summary>Resolves this cluster's services, and the shared ones, as the host's provider does for the default cluster.</summary>
    public IServiceProvider Services { get; } = services;

    /// <summary>Null for the default cluster, whose services need no redirection.</summary>
    public ClusterServiceProvider? Own { get; } = own;

    public T Get<T>()
        where T : notnull => Services.GetRequiredService<T>();
}
