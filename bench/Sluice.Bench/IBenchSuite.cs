namespace Sluice.Bench;

/// <summary>
/// One benchmark suite: runs its measurements (each with a baseline from the same run) and returns a
/// markdown section for docs/BENCHMARKS.md. Add a suite by implementing this and listing it in <see cref="Suites"/>.
/// </summary>
internal interface IBenchSuite
{
    /// <summary>Name used on the command line and in the <c>&lt;!-- suite:NAME --&gt;</c> markers.</summary>
    string Name { get; }

    Task<string> RunAsync(BenchContext context, CancellationToken cancellationToken);
}

/// <summary>What every suite gets: a scratch directory (deleted afterwards) and a progress writer.</summary>
internal sealed record BenchContext(string ScratchDirectory, TextWriter Progress);

internal static class Suites
{
    public static IReadOnlyList<IBenchSuite> All { get; } = [new Storage.StorageSuite(), new Http.HttpSuite(), new Streaming.StreamingSuite(), new Webhooks.WebhookSuite(), new Kafka.KafkaSuite(), new Filters.FilterSuite(), new Grpc.GrpcSuite(), new Replication.ReplicationSuite(), new Delay.DelaySuite(), new Compat.CompatSuite()];
}
