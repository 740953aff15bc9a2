using Sluice.Core.Topics;

namespace Sluice.Core.Replication;

/// <summary>Records of one source partition, in offset order, for one target.</summary>
public sealed class SinkBatch(TopicName topic, int partition, string target, IReadOnlyList<SinkRecord> records)
{
    /// <summary>The source topic.</summary>
    public TopicName Topic { get; } = topic;

    /// <summary>The source partition every record comes from.</summary>
    public int Partition { get; } = partition;

    /// <summary>The target's name for this topic: the sink's target template applied to the topic, or its entry in <c>targets</c>.</summary>
    public string Target { get; } = target;

    public IReadOnlyList<SinkRecord> Records { get; } = records;

    /// <summary>Offset of the first record: with topic and partition, a deterministic name for the batch (object keys).</summary>
    public long FirstOffset => Records[0].Offset;

    /// <summary>Key, value and header bytes of every record.</summary>
    public long Bytes
    {
        get
        {
            long total = 0;
            foreach (var r in Records)
            {
                total += r.Bytes;
            }

            return total;
        }
    }
}
