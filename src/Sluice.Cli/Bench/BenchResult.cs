namespace Sluice.Cli.Bench;

internal sealed record BenchResult(
    long Produced, TimeSpan ProduceTime, LatencyHistogram ProduceLatency,
    long Consumed, long ConsumeTarget, TimeSpan ConsumeTime, LatencyHistogram EndToEndLatency);
