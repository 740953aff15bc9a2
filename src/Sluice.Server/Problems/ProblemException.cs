using System.Diagnostics.CodeAnalysis;

namespace Sluice.Server.Problems;

/// <summary>A client error found by the server itself; <see cref="ProblemMiddleware"/> answers it as problem+json.</summary>
internal sealed class ProblemException(ProblemKind kind, string detail) : Exception(detail)
{
    public ProblemKind Kind { get; } = kind;

    [DoesNotReturn]
    public static void Throw(ProblemKind kind, string detail) => throw new ProblemException(kind, detail);
}
