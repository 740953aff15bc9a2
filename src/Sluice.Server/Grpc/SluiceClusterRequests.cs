namespace Sluice.Server.Grpc.V1;

// The requests of sluice.v1.Sluice that name a cluster (field 15): ClusterInterceptor reads it.
public sealed partial class ProduceRequest : IClusterRequest;

public sealed partial class CancelDelayedRequest : IClusterRequest;

public sealed partial class PullRequest : IClusterRequest;

public sealed partial class AckRequest : IClusterRequest;

public sealed partial class NackRequest : IClusterRequest;

public sealed partial class ConsumeRequest : IClusterRequest
{
    // Only the first message of a Consume stream, subscribe, names the cluster.
    string? IClusterRequest.Cluster => KindCase == KindOneofCase.Subscribe ? Subscribe.Cluster : null;
}
