using Grpc.Core;
using Grpc.Core.Interceptors;
using Sluice.Server.Clusters;
using Sluice.Server.Compat.Pixy;
using Sluice.Server.Problems;

namespace Sluice.Server.Grpc;

/// <summary>
/// Serves each gRPC call with the services of the cluster its request names (<see cref="IClusterRequest"/>): before the
/// service is activated (gRPC activates it per call, after the interceptors, from the request's services), the request's
/// services become that cluster's, so Kafka-Pixy's and Sluice's services work on any cluster unchanged. A streamed call
/// is decided by its first message, which is read here and handed on. An unknown name is Kafka-Pixy's
/// <c>INVALID_ARGUMENT</c> "proxy `x` does not exist" on its service, <c>NOT_FOUND</c> <c>cluster-not-found</c> on Sluice's.
/// </summary>
internal sealed class ClusterInterceptor(ClusterSet clusters) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Enter(request, context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Enter(request, context);
        return continuation(request, responseStream, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
        => await continuation(await EnterStreamAsync(requestStream, context), context);

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
        => await continuation(await EnterStreamAsync(requestStream, context), responseStream, context);

    private Cluster? Enter<TRequest>(TRequest request, ServerCallContext context)
    {
        if (request is not IClusterRequest { Cluster: { } name })
        {
            return null;
        }

        var cluster = clusters.Find(name) ?? throw Unknown(name, context);
        if (cluster.Own is { } own)
        {
            ClusterRequestServices.Enter(context.GetHttpContext(), own);
        }

        return cluster;
    }

    private async Task<IAsyncStreamReader<TRequest>> EnterStreamAsync<TRequest>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken))
        {
            return new FirstThenRest<TRequest>(requestStream, default, hasFirst: false, cluster: null, clusters);
        }

        var first = requestStream.Current;
        return new FirstThenRest<TRequest>(requestStream, first, hasFirst: true, Enter(first, context), clusters);
    }

    private RpcException Unknown(string name, ServerCallContext context)
        => context.Method.StartsWith("/KafkaPixy/", StringComparison.Ordinal)
            ? new RpcException(new Status(StatusCode.InvalidArgument, PixyGateway.UnknownCluster(name).Message))
            : GrpcErrors.Of(ProblemKind.ClusterNotFound, clusters.Unknown(name));

    // The stream as the service would have read it: the first message again, then the rest, each of which leaves the
    // cluster empty or names the first one's (a batch goes to one cluster).
    private sealed class FirstThenRest<T>(IAsyncStreamReader<T> rest, T? first, bool hasFirst, Cluster? cluster, ClusterSet clusters) : IAsyncStreamReader<T>
    {
        private bool _firstPending = hasFirst;

        public T Current { get; private set; } = first!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (_firstPending)
            {
                _firstPending = false;
                return true;
            }

            if (!await rest.MoveNext(cancellationToken))
            {
                return false;
            }

            Current = rest.Current;
            if (Current is IClusterRequest { Cluster: { Length: > 0 } name } && clusters.Find(name) != (cluster ?? clusters.Default))
            {
                throw new ProblemException(ProblemKind.InvalidParameter,
                    $"every message of a stream goes to one cluster; it began with '{(cluster ?? clusters.Default).Name}', this one names '{ProblemWriter.Printable(name, 100)}'");
            }

            return true;
        }
    }
}
