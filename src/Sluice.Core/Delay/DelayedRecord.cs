using Sluice.Core.Log;

namespace Sluice.Core.Delay;

/// <summary>A record to deliver at <see cref="DeliverAt"/>: a past time delivers at once.</summary>
public sealed record DelayedRecord(RecordToAppend Record, DateTimeOffset DeliverAt);
