using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Hosting;
using Sluice.Server.Produce;

namespace Sluice.Server.Clusters;

/// <summary>
/// Every served cluster by name: <c>default</c> (the host's own services; on the embedded log the only one) and each
/// other Kafka cluster configured under <c>kafka:clusters</c>. Opens the others' logs and engines at start, beside the
/// default's, and drains them at shutdown.
/// </summary>
internal sealed partial class ClusterSet
{
    public const string DefaultName = "default";

    private readonly FrozenDictionary<string, Cluster> _byName;

    public ClusterSet(IServiceProvider host, IOptions<ServerOptions> options, ClusterOwnership ownership)
    {
        var all = new List<Cluster> { new(DefaultName, host, null) };
        foreach (var name in ClusterServices.OtherNames(options.Value))
        {
            var own = new ClusterServiceProvider(name, host, ownership.Types);
            all.Add(new Cluster(name, own, own));
        }

        All = all;
        Default = all[0];
        _byName = all.ToFrozenDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
    }

    public Cluster Default { get; }

    /// <summary>The default cluster first, then the others by name.</summary>
    public IReadOnlyList<Cluster> All { get; }

    public IEnumerable<Cluster> Others => All.Skip(1);

    public IEnumerable<string> Names => All.Select(c => c.Name);

    /// <summary>The cluster of this name; null or empty is the default one. Null when no such cluster is configured.</summary>
    public Cluster? Find(string? name) => string.IsNullOrEmpty(name) ? Default : _byName.GetValueOrDefault(name);

    public Cluster Get(string name) => _byName[name];

    /// <summary>"cluster 'x' is not configured; the clusters are default, east": for the answers to an unknown name.</summary>
    public string Unknown(string name)
        => $"cluster '{Problems.ProblemWriter.Printable(name, 100)}' is not configured; the clusters are {string.Join(", ", Names)}";

    /// <summary>
    /// Opens each other cluster's log and loads its engine's state, as the host does for the default one; false (logged
    /// and printed) when one cannot be opened: the server does not start without all of them.
    /// </summary>
    public async ValueTask<bool> OpenOthersAsync(ServerOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var cluster in Others)
        {
            try
            {
                var backend = cluster.Get<Backend>();
                await backend.OpenAsync(options, cluster.Own!.LoggerFactory, cluster.Get<TimeProvider>(), cancellationToken, cluster.Name);
                await Backend.StartEngineAsync(cluster.Get<ISubscriptionService>(), cancellationToken);
                Log.ClusterOpened(logger, cluster.Name, backend.KafkaBootstrap ?? "");
            }
            catch (Exception ex)
            {
                Log.ClusterOpenFailed(logger, cluster.Name, ex);
                await Console.Error.WriteLineAsync($"sluice: cannot open Kafka cluster '{cluster.Name}' (kafka:clusters:{cluster.Name}): {ex.Message}");
                return false;
            }
        }

        return true;
    }

    /// <summary>At shutdown, after the hosted services stopped: the cluster's async produces finish, then its cursors are written.</summary>
    public static async ValueTask DrainAsync(Cluster cluster, CancellationToken cancellationToken)
    {
        await cluster.Get<PendingAppends>().WaitAsync(cancellationToken);
        await cluster.Get<ISubscriptionService>().FlushAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.ClusterOpened, Level = LogLevel.Information, Message = "Kafka cluster {Cluster} open at {KafkaBootstrap}")]
        public static partial void ClusterOpened(ILogger logger, string cluster, string kafkaBootstrap);

        [LoggerMessage(EventId = LogEvents.ClusterOpenFailed, Level = LogLevel.Critical, Message = "Cannot open Kafka cluster {Cluster}")]
        public static partial void ClusterOpenFailed(ILogger logger, string cluster, Exception exception);
    }
}
