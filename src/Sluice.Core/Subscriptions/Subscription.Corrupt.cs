using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>What the read-ahead does when the log reports records it cannot serve (<see cref="CorruptRecordsException"/>).</summary>
internal sealed partial class Subscription
{
    /// <summary>
    /// Under <see cref="CorruptRecordsPolicy.Skip"/>: the lost range counts as acked (there is nothing to deliver), is
    /// recorded in the partition's status, logged and counted, and reading continues after it; returns true. Under
    /// <see cref="CorruptRecordsPolicy.Stop"/>: the partition stays where it is, its status says where and why; returns false.
    /// </summary>
    private bool OnCorrupt(PartitionState p, int epoch, long from, CorruptRecordsException ex)
    {
        lock (_gate)
        {
            if (epoch != p.FetchEpoch || Deleted)
            {
                return true; // a seek moved on meanwhile: read again from the new position
            }

            // The read at `from` was refused: offsets from there to the damage hold no record (a gap), the damaged ones are lost.
            var lost = new CorruptRange(Math.Max(from, ex.FromOffset), ex.ToOffset, ex.Reason, Now);
            if (_ctx.Options.OnCorruptRecords == CorruptRecordsPolicy.Stop)
            {
                if (p.StoppedAt?.FromOffset != lost.FromOffset)
                {
                    p.StoppedAt = lost;
                    Log.StoppedAtCorruptRecords(_ctx.Logger, Topic, Name, p.Partition, lost.FromOffset, lost.ToOffset - 1, ex.Reason, lost.ToOffset);
                }

                return false;
            }

            p.StoppedAt = null;
            p.Cursor.Add(from, ex.ToOffset);
            p.ReadPosition = ex.ToOffset;
            p.AddSkipped(lost);
            Log.CorruptRecordsSkipped(_ctx.Logger, Topic, Name, p.Partition, lost.FromOffset, lost.ToOffset - 1, ex.Reason);
            DeliveryMetrics.OnCorruptSkipped(Topic, Name, lost.ToOffset - lost.FromOffset);
            return true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(CoreEventIds.CorruptRecordsSkipped, LogLevel.Error,
            "Subscription '{Name}' on '{Topic}' partition {Partition}: offsets {From}..{Last} are damaged in the log and were skipped, never delivered ({Reason})")]
        public static partial void CorruptRecordsSkipped(ILogger logger, TopicName topic, string name, int partition, long from, long last, string reason);

        [LoggerMessage(CoreEventIds.StoppedAtCorruptRecords, LogLevel.Error,
            "Subscription '{Name}' on '{Topic}' partition {Partition} stopped at damaged offsets {From}..{Last} ({Reason}); seek it to offset {Next} to go on")]
        public static partial void StoppedAtCorruptRecords(ILogger logger, TopicName topic, string name, int partition, long from, long last, string reason, long next);
    }
}
