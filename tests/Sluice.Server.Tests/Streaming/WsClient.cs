using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Sluice.Server.Tests.Streaming;

/// <summary>A ClientWebSocket sending and receiving JSON text frames.</summary>
public sealed class WsClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement?> _frames = Channel.CreateUnbounded<JsonElement?>();
    private Task? _reader;

    public WebSocket Socket => _socket;

    public static async Task<WsClient> ConnectAsync(Uri baseAddress, string pathAndQuery)
    {
        var client = new WsClient();
        var uri = new Uri($"ws://{baseAddress.Authority}{pathAndQuery}");
        await client._socket.ConnectAsync(uri, CancellationToken.None);
        return client;
    }

    public Task SendJsonAsync(object value) => SendTextAsync(JsonSerializer.Serialize(value));

    public Task SendTextAsync(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SendBinaryAsync(byte[] bytes) => _socket.SendAsync(bytes, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>The next text frame as JSON; null when the server closed; throws TimeoutException after <paramref name="timeout"/>.</summary>
    /// <remarks>Frames are read by a background loop: cancelling a WebSocket receive would abort the socket.</remarks>
    public async Task<JsonElement?> ReceiveAsync(TimeSpan timeout)
    {
        _reader ??= Task.Run(ReadLoopAsync);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var frame = await _frames.Reader.ReadAsync(cts.Token);
            return frame;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no frame within {timeout}");
        }
        catch (ChannelClosedException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _frames.Writer.TryComplete();
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    await _frames.Writer.WriteAsync(JsonDocument.Parse(message.ToArray()).RootElement.Clone());
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex)
        {
            _frames.Writer.TryComplete(ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
                if (_reader is not null)
                {
                    await _reader.WaitAsync(cts.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                // The server went away first.
            }
        }

        _socket.Dispose();
    }
}
