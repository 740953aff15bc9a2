using System.Diagnostics.CodeAnalysis;
using System.Text;
using Sluice.Core.Topics;

namespace Sluice.Kafka;

/// <summary>
/// The bijection between Sluice topic names and Kafka topic names. Each part is escaped (<c>_</c> becomes <c>__</c>,
/// <c>.</c> becomes <c>_.</c>) and the parts are joined by <c>.</c>: <c>acme/orders/created</c> is
/// <c>acme.orders.created</c>, <c>acme/orders.v2/x_y</c> is <c>acme.orders_.v2.x__y</c>, and the internal
/// <c>__sluice/system/cursors</c> is <c>____sluice.system.cursors</c>. Every Kafka name with exactly two unescaped
/// dots and valid parts maps back; others (most ops-managed names such as <c>orders</c>) have no Sluice name.
/// </summary>
public static class KafkaTopicNames
{
    /// <summary>Kafka's longest topic name.</summary>
    public const int MaxKafkaNameLength = 249;

    /// <summary>The Kafka name of a topic; throws <see cref="InvalidNameException"/> when it would exceed 249 characters.</summary>
    public static string ToKafka(TopicName topic)
    {
        var sb = new StringBuilder(topic.Tenant.Length + topic.Namespace.Length + topic.Name.Length + 8);
        Escape(sb, topic.Tenant);
        sb.Append('.');
        Escape(sb, topic.Namespace);
        sb.Append('.');
        Escape(sb, topic.Name);
        if (sb.Length > MaxKafkaNameLength)
        {
            throw new InvalidNameException(
                $"topic name '{topic}' is too long for Kafka: it maps to {sb.Length} characters, Kafka allows {MaxKafkaNameLength} ('_' and '.' count twice)");
        }

        return sb.ToString();
    }

    /// <summary>The Sluice name of a Kafka topic, or false when it has none.</summary>
    public static bool TryFromKafka(string kafkaName, [NotNullWhen(true)] out TopicName? topic)
    {
        topic = null;
        var parts = new List<string>(3);
        var current = new StringBuilder();
        for (var i = 0; i < kafkaName.Length; i++)
        {
            var c = kafkaName[i];
            if (c == '_')
            {
                if (i + 1 >= kafkaName.Length || kafkaName[i + 1] is not ('_' or '.'))
                {
                    return false;
                }

                current.Append(kafkaName[++i]);
            }
            else if (c == '.')
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        parts.Add(current.ToString());
        if (parts.Count != 3 || !parts.TrueForAll(p => TopicName.IsValidPart(p, out _)))
        {
            return false;
        }

        topic = new TopicName(parts[0], parts[1], parts[2]);
        return true;
    }

    private static void Escape(StringBuilder sb, string part)
    {
        foreach (var c in part)
        {
            if (c is '_' or '.')
            {
                sb.Append('_');
            }

            sb.Append(c);
        }
    }
}
