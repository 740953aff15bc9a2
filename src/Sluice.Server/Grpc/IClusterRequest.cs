namespace Sluice.Server.Grpc;

/// <summary>A gRPC request that names the cluster it is for (Kafka-Pixy's and Sluice's <c>cluster</c> fields).</summary>
internal interface IClusterRequest
{
    /// <summary>The cluster's name; empty for the default one; null when this message does not say (a stream's later messages).</summary>
    string? Cluster { get; }
}
