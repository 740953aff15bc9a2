using Sluice.Core.Topics;
using Sluice.Kafka;

namespace Sluice.Server.Compat.Pixy;

/// <summary>
/// Kafka-Pixy names topics as Kafka does; Sluice topics are <c>tenant/namespace/name</c>. The mapping is Sluice's
/// Kafka topic naming read backwards (<see cref="KafkaTopicNames"/>), on both backends, so that on Kafka a Pixy topic is
/// the very Kafka topic Pixy used: <c>acme.shop.orders</c> is <c>acme/shop/orders</c>, and a plain name such as
/// <c>orders</c> is <c>kafka/topics/orders</c>.
/// </summary>
internal static class PixyTopics
{
    /// <summary>The Sluice topic of a Pixy topic name; throws <see cref="PixyException"/> (invalid argument) when it has none.</summary>
    public static TopicName Map(string? pixyTopic)
    {
        if (string.IsNullOrEmpty(pixyTopic))
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, "topic name is empty");
        }

        if (!KafkaTopicNames.TryFromKafka(pixyTopic, out var topic) || topic.Value.IsInternal)
        {
            throw new PixyException(PixyErrorKind.InvalidArgument,
                $"invalid topic name `{Printable(pixyTopic)}`: use 1 to {KafkaTopicNames.MaxKafkaNameLength} letters, digits, '.', '_' and '-', not starting with '__'");
        }

        return topic.Value;
    }

    /// <summary>The Pixy (Kafka) name of a Sluice topic.</summary>
    public static string NameOf(TopicName topic) => KafkaTopicNames.ToKafka(topic);

    public static string Printable(string value) => Problems.ProblemWriter.Printable(value, 100);
}
