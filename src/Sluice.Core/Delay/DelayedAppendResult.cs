namespace Sluice.Core.Delay;

/// <summary>
/// The outcome of <see cref="IDelayService.AppendAsync"/>: the records are durable, and will be delivered to
/// <see cref="Partition"/> of their topic when due. <see cref="Ids"/> (one per record, in order) cancel them.
/// </summary>
public sealed record DelayedAppendResult(int Partition, IReadOnlyList<string> Ids);
