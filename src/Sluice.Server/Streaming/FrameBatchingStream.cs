using System.Buffers;

namespace Sluice.Server.Streaming;

/// <summary>
/// The stream under a consume WebSocket: while the send loop writes a batch of message frames it holds them in one
/// buffer and hands them to the connection in one write when the batch's last frame is written, instead of one write
/// (a pipe flush, a wake-up of the socket sender, a system call) per frame. Outside a batch every write goes through.
/// <code>
///   Hold() ──► frame, frame, ... (buffered, up to BufferBytes; a full buffer is written out first)
///   ReleaseAtNextWrite() ──► last frame ──► buffer + frame written to the connection at once
/// </code>
/// The WebSocket writes under its own send lock, so control frames it sends meanwhile (pongs, keep-alives) simply join
/// the batch in order. The buffer is rented for a batch and returned after it: an idle socket holds none.
/// </summary>
internal sealed class FrameBatchingStream(Stream inner) : Stream
{
    /// <summary>Most bytes held before they are written out: bounds a connection's memory, whatever the batch.</summary>
    public const int BufferBytes = 64 * 1024;

    private byte[]? _buffer;
    private int _count;
    private volatile bool _holding;
    private CancellationToken _batchToken;

    /// <summary>
    /// Frames written from now on are held (the send loop, before a batch). Writes to the connection made for the batch
    /// are cancelled by <paramref name="timeout"/> (the slow-consumer timer), since the frames themselves are sent
    /// without a token: a send that cannot be cancelled takes the WebSocket's synchronous path, and a held frame
    /// completes at once anyway.
    /// </summary>
    public void Hold(CancellationToken timeout)
    {
        _batchToken = timeout;
        _holding = true;
    }

    /// <summary>The next write sends everything held with it (the send loop, before a batch's last frame, or when a batch ends early).</summary>
    public void ReleaseAtNextWrite() => _holding = false;

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_holding && buffer.Length <= BufferBytes - _count)
        {
            Append(buffer.Span);
            return ValueTask.CompletedTask;
        }

        return _count == 0 && !_holding ? inner.WriteAsync(buffer, cancellationToken) : WriteHeldAsync(buffer, cancellationToken);
    }

    private async ValueTask WriteHeldAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            cancellationToken = _batchToken;
        }

        if (buffer.Length <= BufferBytes - _count)
        {
            // The batch's last frame (or a frame after a batch that ended early): one write with everything held.
            Append(buffer.Span);
            await DrainAsync(cancellationToken);
            return;
        }

        // Full: what is held goes first, then this frame is held (in a batch) or written (after one).
        await DrainAsync(cancellationToken);
        if (_holding && buffer.Length <= BufferBytes)
        {
            Append(buffer.Span);
        }
        else
        {
            await inner.WriteAsync(buffer, cancellationToken);
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        _buffer ??= ArrayPool<byte>.Shared.Rent(BufferBytes);
        bytes.CopyTo(_buffer.AsSpan(_count));
        _count += bytes.Length;
    }

    private async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        if (_buffer is not { } held)
        {
            return;
        }

        try
        {
            if (_count > 0)
            {
                await inner.WriteAsync(held.AsMemory(0, _count), cancellationToken);
            }
        }
        finally
        {
            // Written or failed (a failed write ends the socket): either way the bytes are no longer held.
            _count = 0;
            _buffer = null;
            ArrayPool<byte>.Shared.Return(held);
        }
    }

    /// <summary>
    /// Within a batch, nothing: the WebSocket flushes after every frame it writes, and draining then would write each
    /// frame on its own again (it did: one pipe write and flush per frame). The batch's frames go out with its last one.
    /// Outside a batch, sends what is held (a batch that ended early) and flushes the connection.
    /// </summary>
    public override Task FlushAsync(CancellationToken cancellationToken)
        => _holding ? Task.CompletedTask : FlushHeldAsync(cancellationToken);

    private async Task FlushHeldAsync(CancellationToken cancellationToken)
    {
        await DrainAsync(cancellationToken);
        await inner.FlushAsync(cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    // The WebSocket reads and writes asynchronously only; the synchronous members are there for completeness, and a
    // flush sends what is held like FlushAsync does (passing it straight through left held frames behind).
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_buffer is { } held)
            {
                _buffer = null;
                _count = 0;
                ArrayPool<byte>.Shared.Return(held);
            }

            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
