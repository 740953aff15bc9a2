using System.Buffers;
using System.Net.WebSockets;

namespace Sluice.Server.Streaming;

/// <summary>Reading whole WebSocket messages, with a size limit: into a pooled array, or an exact-size copy to keep.</summary>
internal static class WebSocketFrames
{
    /// <summary>4 KiB: a typical ack frame fits in the first array.</summary>
    private const int ChunkBytes = 4 * 1024;

    /// <summary>Arrays up to this size go back to the pool; a larger one (a client's big frame) is left to the collector, so the pool never keeps it.</summary>
    private const int MaxPooledBytes = 64 * 1024;

    /// <summary>One whole message as an array of its exact size (kept by the caller: a produced record's value), or null
    /// when the peer closed. Throws as <see cref="ReceiveRentedAsync"/> does.</summary>
    public static async ValueTask<(byte[] Payload, WebSocketMessageType Type)?> ReceiveAsync(WebSocket socket, int maxBytes, CancellationToken cancellationToken)
    {
        if (await ReceiveRentedAsync(socket, maxBytes, cancellationToken) is not { } frame)
        {
            return null;
        }

        try
        {
            return (frame.Rented.AsSpan(0, frame.Length).ToArray(), frame.Type);
        }
        finally
        {
            Release(frame.Rented);
        }
    }

    /// <summary>
    /// One whole message in an array rented from the shared pool, which the caller hands to <see cref="Release"/> once it
    /// has read the message, or null when the peer closed. For messages read and dropped at once (a consumer's acks): no
    /// array per message. Throws <see cref="FrameTooLargeException"/> past <paramref name="maxBytes"/>, after reading and
    /// dropping the rest of that message, so the socket stays usable.
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
                    Release(buffer);
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
                Release(buffer);
            }
        }
    }

    /// <summary>Gives back an array from <see cref="ReceiveRentedAsync"/>.</summary>
    public static void Release(byte[] rented)
    {
        if (rented.Length <= MaxPooledBytes)
        {
            ArrayPool<byte>.Shared.Return(rented);
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
