using System.Buffers;

namespace Sluice.Core.Replication;

/// <summary>
/// A growable buffer rented from <see cref="ArrayPool{T}.Shared"/> for a sink's encoded batch (a JSON body, an NDJSON
/// object). A batch of 500 records of 1 KiB encodes to about 600 KiB: allocated fresh per batch (and grown by doubling,
/// then copied out) that is several MiB of large-object heap per batch, which made gen-2 collections the replicator's
/// largest cost in a profile of the http sink. Rented, the same few arrays serve every batch. Dispose once the target has
/// answered and nothing reads <see cref="WrittenSegment"/> any more.
/// </summary>
public sealed class SinkBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;

    /// <param name="sizeHint">Expected size; the buffer grows past it when needed.</param>
    public SinkBuffer(int sizeHint) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, 4096));

    /// <summary>The bytes written so far, in the rented array (valid until <see cref="Dispose"/>).</summary>
    public ArraySegment<byte> WrittenSegment => new(Buffer, 0, _written);

    public ReadOnlyMemory<byte> WrittenMemory => WrittenSegment;

    public int WrittenCount => _written;

    private byte[] Buffer => _buffer.Length == 0 ? throw new ObjectDisposedException(nameof(SinkBuffer)) : _buffer;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Buffer.Length - _written);
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Ensure(int sizeHint)
    {
        var need = Math.Max(sizeHint, 1);
        var current = Buffer;
        if (current.Length - _written >= need)
        {
            return;
        }

        var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max((long)current.Length * 2, (long)_written + need)));
        current.AsSpan(0, _written).CopyTo(grown);
        _buffer = grown;
        ArrayPool<byte>.Shared.Return(current);
    }
}
