using System.Diagnostics.CodeAnalysis;

namespace Sluice.Server.Compat;

/// <summary>
/// A client error found by a compatibility adapter, answered in its ancestor's shape (<see cref="CompatDialect"/>) with
/// the status that ancestor gave it.
/// </summary>
internal sealed class CompatException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    [DoesNotReturn]
    public static void Throw(int status, string message) => throw new CompatException(status, message);
}
