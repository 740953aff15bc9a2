using System.Buffers;
using System.Net.WebSockets;

namespace Sluice.Server.Streaming;

/// <summary>Reading whole WebSocket messages into an exact-size array, with a size limit.</summary>
internal static class WebSocketFrames
{
    /// <summary>4 KiB: a typical ack frame fits; only what is received is kept, not the buffer.</summary>
    private const int ChunkBytes = 4 * 1024;

    /// <summary>One whole message, or null when the peer closed. Throws <see cref="FrameTooLargeException"/> past <paramref name="maxBytes"/>
    /// (after reading and dropping the rest of that message, so the socket stays usable).</summary>
    public static async ValueTask<(byte[] Payload, WebSocketMessageType Type)?> ReceiveAsync(WebSocket socket, int maxBytes, CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            ArrayBufferWriter<byte>? buffer = null;
            var received = 0;
            var tooLarge = false;
            while (true)
            {
                var result = await socket.ReceiveAsync(chunk.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                received += result.Count;
                tooLarge |= received > maxBytes;
                if (result.EndOfMessage && buffer is null && !tooLarge)
                {
                    // The common case: the whole message came in one read.
                    return (chunk.AsSpan(0, result.Count).ToArray(), result.MessageType);
                }

                if (!tooLarge)
                {
                    (buffer ??= new ArrayBufferWriter<byte>(ChunkBytes)).Write(chunk.AsSpan(0, result.Count));
                }

                if (result.EndOfMessage)
                {
                    if (tooLarge)
                    {
                        throw new FrameTooLargeException(maxBytes);
                    }

                    return (buffer!.WrittenSpan.ToArray(), result.MessageType);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>
    /// One whole message in an array rented from the shared pool, which the caller gives back once it has read the
    /// message (<c>ArrayPool&lt;byte&gt;.Shared.Return</c>), or null when the peer closed. For messages read and dropped
    /// at once (a consumer's acks): no array per message, the pool's arrays are reused. Throws
    /// <see cref="FrameTooLargeException"/> past <paramref name="maxBytes"/>, as <see cref="ReceiveAsync"/> does.
    /// </summary>
    public static async ValueTask<(byte[] Rented, int Length, WebSocketMessageType Type)?> ReceiveRentedAsync(WebSocket socket, int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var handedOver = false;
        try
        {
            var length = 0;
            long received = 0;
            while (true)
            {
                var tooLarge = received > maxBytes;
                if (!tooLarge && length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                // Past the limit the rest of the message is read over the start of the buffer and dropped.
                var result = await socket.ReceiveAsync(tooLarge ? buffer.AsMemory() : buffer.AsMemory(length), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                received += result.Count;
                length = tooLarge ? length : length + result.Count;
                if (result.EndOfMessage)
                {
                    if (received > maxBytes)
                    {
                        throw new FrameTooLargeException(maxBytes);
                    }

                    handedOver = true;
                    return (buffer, length, result.MessageType);
                }
            }
        }
        finally
        {
            if (!handedOver)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Sends one text frame, treating a send that does not complete within <paramref name="timeout"/> as a slow consumer.</summary>
    public static async ValueTask SendAsync(WebSocket socket, ReadOnlyMemory<byte> payload, SemaphoreSlim sendLock, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var cts = new CancellationTokenSource(timeout, time);
        await sendLock.WaitAsync(cancellationToken);
        try
        {
            // Cancelling a WebSocket send aborts the socket: exactly what a slow consumer gets.
            await socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new SlowConsumerException();
        }
        finally
        {
            sendLock.Release();
        }
    }
}

/// <summary>A client frame larger than allowed.</summary>
internal sealed class FrameTooLargeException(int maxBytes) : Exception($"a frame may hold at most {maxBytes} bytes")
{
    public int MaxBytes { get; } = maxBytes;
}
