namespace Sluice.Kafka;

/// <summary>Every log event id of Sluice.Kafka (range 3000-3999), in one table so none is reused. Only ever add.</summary>
internal static class KafkaEventIds
{
    public const int Connected = 3000;
    public const int MockClusterStarted = 3001;
    public const int TopicCreated = 3002;
    public const int TopicUpdated = 3003;
    public const int TopicDeleted = 3004;
    public const int ClientError = 3005;
    public const int ClusterNotAnswering = 3006;
    public const int WatermarkPollFailed = 3007;
    public const int ReaderClosed = 3008;
    public const int ClientLog = 3009;
    public const int CoordinatorAssigned = 3020;
    public const int CoordinatorRevoked = 3021;
    public const int CoordinatorHandlerFailed = 3022;
    public const int CoordinatorCommitFailed = 3023;
    public const int CoordinatorPollFailed = 3024;
}
