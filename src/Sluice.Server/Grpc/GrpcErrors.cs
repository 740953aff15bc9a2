using Grpc.Core;
using Sluice.Server.Problems;

namespace Sluice.Server.Grpc;

/// <summary>
/// Sluice's errors on its gRPC API: the HTTP API's classification (<see cref="ProblemMiddleware.Map"/>) with the status
/// code nearest to its HTTP status, the same detail text, and the problem type in the trailer <c>sluice-problem-type</c>.
/// </summary>
internal static class GrpcErrors
{
    public const string ProblemTypeTrailer = "sluice-problem-type";

    public static RpcException From(Exception ex)
    {
        if (ex is RpcException rpc)
        {
            return rpc;
        }

        var (kind, detail) = ProblemMiddleware.Map(ex);
        return new RpcException(new Status(Code(kind.Status), detail), new Metadata { { ProblemTypeTrailer, kind.Type } });
    }

    public static RpcException Of(ProblemKind kind, string detail)
        => new(new Status(Code(kind.Status), detail), new Metadata { { ProblemTypeTrailer, kind.Type } });

    private static StatusCode Code(int httpStatus) => httpStatus switch
    {
        400 or 413 or 415 => StatusCode.InvalidArgument,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.NotFound,
        409 => StatusCode.FailedPrecondition,
        429 => StatusCode.ResourceExhausted,
        501 => StatusCode.Unimplemented,
        503 => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };
}
