namespace Sluice.Core.Delay;

/// <summary>One pending delayed message in a listing.</summary>
public sealed record DelayedEntry(string Id, int Partition, DateTimeOffset DeliverAt);
