namespace Sluice.Sinks.Kafka;

/// <summary>Every log event id of Sluice.Sinks.Kafka (range 4500-4599), in one table so none is reused. Only ever add.</summary>
internal static class KafkaSinkEventIds
{
    public const int ClientError = 4500;
    public const int ClientLog = 4501;
    public const int ProducerRecreated = 4502;
}
