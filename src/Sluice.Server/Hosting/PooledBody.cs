using System.Buffers;

namespace Sluice.Server.Hosting;

/// <summary>
/// A request body in an array rented from <see cref="ArrayPool{T}.Shared"/>, for a body that is parsed and copied out
/// (a batch) rather than kept: a 100 KiB batch read into its own array is a large-object-heap allocation per request,
/// and those set off the gen2 collections that took a third of the server's CPU in batch produce (design note 0017).
/// Dispose it once nothing refers to its bytes any more; it is a struct, so dispose it once.
/// </summary>
internal readonly struct PooledBody(byte[] array, int length) : IDisposable
{
    public ReadOnlySpan<byte> Span => array.AsSpan(0, length);

    public ReadOnlyMemory<byte> Memory => array.AsMemory(0, length);

    public int Length => length;

    public void Dispose()
    {
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
