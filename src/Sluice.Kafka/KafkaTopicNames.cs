using System.Diagnostics.CodeAnalysis;
using System.Text;
using Sluice.Core.Topics;

namespace Sluice.Kafka;

/// <summary>
/// The bijection between Sluice topic names and Kafka topic names. Each part is escaped (<c>_</c> becomes <c>__</c>,
/// <c>.</c> becomes <c>_.</c>) and the parts are joined by <c>.</c>: <c>acme/orders/created</c> is
/// <c>acme.orders.created</c>, <c>acme/orders.v2/x_y</c> is <c>acme.orders_.v2.x__y</c>, and the internal
/// <c>__sluice/system/cursors</c> is <c>____sluice.system.cursors</c>. Every Kafka name with exactly two unescaped
/// dots and valid parts maps back.
/// <para>Every other Kafka name (the plain names of topics made by operators or by Kafka-Pixy, such as <c>orders</c> or
/// <c>orders_v2</c>) is a topic of the namespace <c>kafka/topics</c>, under its own name: <c>kafka/topics/orders</c> is
/// the Kafka topic <c>orders</c>. Kafka's internal topics (names starting with <c>__</c>) have no Sluice name, and
/// neither has a Kafka name that spells out <c>kafka.topics.X</c> for an X that has a plain form (its Sluice name
/// belongs to the plain topic X).</para>
/// </summary>
public static class KafkaTopicNames
{
    /// <summary>Kafka's longest topic name.</summary>
    public const int MaxKafkaNameLength = 249;

    /// <summary>The tenant of the namespace that holds plain Kafka topics.</summary>
    public const string PlainTenant = "kafka";

    /// <summary>The namespace (in <see cref="PlainTenant"/>) that holds plain Kafka topics.</summary>
    public const string PlainNamespace = "topics";

    /// <summary>The Kafka name of a topic; throws <see cref="InvalidNameException"/> when it would exceed 249 characters.</summary>
    public static string ToKafka(TopicName topic)
    {
        if (IsPlain(topic))
        {
            return topic.Name;
        }

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
        if (TryFromEscaped(kafkaName, out topic))
        {
            // kafka.topics.X is spelt so only when X has no plain form; otherwise kafka/topics/X is the plain topic X.
            return !IsPlain(topic.Value);
        }

        if (HasPlainForm(kafkaName))
        {
            topic = new TopicName(PlainTenant, PlainNamespace, kafkaName);
            return true;
        }

        return false;
    }

    // A topic of kafka/topics whose name is a Kafka name that is not the escaped form of a Sluice name: its Kafka name is itself.
    private static bool IsPlain(TopicName topic)
        => topic.Tenant == PlainTenant && topic.Namespace == PlainNamespace && HasPlainForm(topic.Name);

    private static bool HasPlainForm(string name)
        => name.Length is > 0 and <= MaxKafkaNameLength
            && !name.StartsWith("__", StringComparison.Ordinal)
            && name is not ("." or "..")
            && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            && !TryFromEscaped(name, out _);

    private static bool TryFromEscaped(string kafkaName, [NotNullWhen(true)] out TopicName? topic)
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
