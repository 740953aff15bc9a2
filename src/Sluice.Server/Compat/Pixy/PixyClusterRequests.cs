using Sluice.Server.Grpc;

namespace Sluice.Server.Compat.Pixy.Protocol;

// Kafka-Pixy's requests, every one of which names a cluster (field 1): ClusterInterceptor reads it.
public sealed partial class ProdRq : IClusterRequest;

public sealed partial class ConsNAckRq : IClusterRequest;

public sealed partial class AckRq : IClusterRequest;

public sealed partial class GetOffsetsRq : IClusterRequest;

public sealed partial class SetOffsetsRq : IClusterRequest;

public sealed partial class ListTopicRq : IClusterRequest;

public sealed partial class ListConsumersRq : IClusterRequest;

public sealed partial class GetTopicMetadataRq : IClusterRequest;
