using System.Net.WebSockets;
using System.Text;
using Sluice.Server.Streaming;

namespace Sluice.Server.Tests.Streaming;

/// <summary>
/// The consume WebSocket's stream under .NET's own WebSocket: a batch of frames reaches the connection in one write,
/// however the WebSocket writes and flushes each frame, and what the peer reads is every frame, in order.
/// </summary>
public sealed class FrameBatchingStreamTests
{
    [Fact]
    public async Task BatchOfFrames_ReachesTheConnectionInOneWrite_AndThePeerReadsEveryFrameInOrder()
    {
        await using var server = new ServerSocket();

        server.Frames.Hold(CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            if (i == 9)
            {
                server.Frames.ReleaseAtNextWrite();
            }

            await server.SendAsync($"message {i}");
        }

        Assert.Equal(1, server.Connection.Writes);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => $"message {i}")], await ReadAllAsync(server.Connection.Written));
    }

    [Fact]
    public async Task OutsideABatch_EachFrameIsWrittenAtOnce()
    {
        await using var server = new ServerSocket();

        await server.SendAsync("first");
        Assert.Equal(1, server.Connection.Writes);
        await server.SendAsync("second");
        Assert.Equal(2, server.Connection.Writes);

        Assert.Equal(["first", "second"], await ReadAllAsync(server.Connection.Written));
    }

    [Fact]
    public async Task BatchEndedEarly_WhatIsHeldGoesOutWithTheNextFrame()
    {
        await using var server = new ServerSocket();

        server.Frames.Hold(CancellationToken.None);
        await server.SendAsync("held");
        Assert.Equal(0, server.Connection.Writes);

        // The send loop's finally when a batch fails part-way; the next frame (here an ack answer) carries the held one.
        server.Frames.ReleaseAtNextWrite();
        await server.SendAsync("next");

        Assert.Equal(1, server.Connection.Writes);
        Assert.Equal(["held", "next"], await ReadAllAsync(server.Connection.Written));
    }

    // .NET's server WebSocket over the batching stream over a recorded connection.
    private sealed class ServerSocket : IAsyncDisposable
    {
        private readonly WebSocket _socket;

        public ServerSocket()
        {
            Frames = new FrameBatchingStream(Connection);
            _socket = WebSocket.CreateFromStream(Frames, new WebSocketCreationOptions { IsServer = true });
        }

        public RecordingStream Connection { get; } = new();

        public FrameBatchingStream Frames { get; }

        public Task SendAsync(string text)
            => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

        public async ValueTask DisposeAsync()
        {
            _socket.Dispose();
            await Frames.DisposeAsync();
        }
    }

    // Reads the server's frames back as a client WebSocket would.
    private static async Task<List<string>> ReadAllAsync(byte[] written)
    {
        using var client = WebSocket.CreateFromStream(new MemoryStream(written), new WebSocketCreationOptions { IsServer = false });
        var messages = new List<string>();
        var buffer = new byte[1024];
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                result = await client.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
            }
            catch (WebSocketException)
            {
                return messages; // the end of the recorded bytes
            }

            if (result.Count == 0 && result.MessageType == WebSocketMessageType.Close)
            {
                return messages;
            }

            messages.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
    }

    /// <summary>The connection: counts the writes that reach it and keeps their bytes; nothing comes in (a read ends at once).</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly MemoryStream _bytes = new();

        public int Writes { get; private set; }

        public byte[] Written => _bytes.ToArray();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            _bytes.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => 0;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
