using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Sluice.Bench.Webhooks;

/// <summary>
/// Two pushers that do what a webhook gateway must do per message and nothing else, run as child processes like the
/// gateway, so the same run measures how close one HTTP request per message can come to the receiver driven by
/// <c>wrk</c>:
/// <list type="bullet">
/// <item><c>raw</c>: one pre-built request (a Sluice webhook call's headers and a 100-byte body, signature included as
/// fixed text) written to a socket, the answer read up to the end of its headers; CONCURRENCY connections at once.
/// Nothing read from a log, nothing signed, no HTTP client: the fastest sender of one call per message measured on
/// .NET's sockets here.</item>
/// <item><c>client</c>: the same request through <see cref="HttpMessageInvoker"/> over a <see cref="SocketsHttpHandler"/>
/// set up as the gateway's is, a new <see cref="HttpRequestMessage"/> per call: the framework's HTTP client alone.</item>
/// </list>
/// Each child pushes until killed, and answers every line on its standard input with the number of calls answered so
/// far, so the bench takes a window's count as it takes the gateway's <c>delivered</c> stat.
/// </summary>
internal static class Pusher
{
    public const string ChildFlag = "--child-webhook-pusher";
    private const string Usage = $"usage: {ChildFlag} raw|client URL CONCURRENCY";

    // Kestrel's answer with no body is well under 200 bytes.
    private const int AnswerBufferBytes = 4096;

    private static long _answered;

    /// <summary>The headers of a Sluice webhook call to <paramref name="topic"/>, with values of the same length.</summary>
    public static IReadOnlyList<(string Name, string Value)> Headers(string topic) =>
    [
        ("User-Agent", "Sluice-Webhooks/1"),
        ("webhook-id", "msg_0123456789abcdef_3_1234567"),
        ("webhook-timestamp", "1765100000"),
        ("webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
        ("Sluice-Webhook-Id", "0123456789abcdef"),
        ("Sluice-Message-Id", "3:1234567"),
        ("Sluice-Topic", topic),
        ("Sluice-Publish-Time", "2026-12-07T07:11:00.1234567Z"),
        ("Sluice-Attempt", "1"),
    ];

    public static async Task<int> RunChildAsync(string[] args)
    {
        if (args is not [_, var kind and ("raw" or "client"), var urlText, var concurrencyText]
            || !Uri.TryCreate(urlText, UriKind.Absolute, out var url)
            || !int.TryParse(concurrencyText, CultureInfo.InvariantCulture, out var concurrency) || concurrency < 1)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        // One invoker for all the calls, as the gateway has one for all its webhooks.
        using var invoker = kind == "client" ? NewInvoker() : null;
        var body = new byte[100];
        body.AsSpan().Fill((byte)'x');
        var headers = Headers(WebhookSuite.Topic);
        for (var i = 0; i < concurrency; i++)
        {
            var loop = kind == "raw" ? Task.Run(() => RawLoopAsync(url, headers, body)) : Task.Run(() => ClientLoopAsync(invoker!, url, headers, body));

            // A loop only ends by failing: then the whole child does, and the bench sees it exit.
            _ = loop.ContinueWith(
                failed =>
                {
                    Console.Error.WriteLine($"a {kind} pusher loop failed: {failed.Exception?.GetBaseException().Message}");
                    Environment.Exit(1);
                },
                TaskScheduler.Default);
        }

        while (await Console.In.ReadLineAsync() is not null)
        {
            await Console.Out.WriteLineAsync(Interlocked.Read(ref _answered).ToString(CultureInfo.InvariantCulture));
            await Console.Out.FlushAsync();
        }

        return 0;
    }

    private static HttpMessageInvoker NewInvoker() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        ActivityHeadersPropagator = null,
    });

    private static async Task RawLoopAsync(Uri url, IReadOnlyList<(string Name, string Value)> headers, byte[] body)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\n");
        foreach (var (name, value) in headers)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"Content-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n");
        var request = Encoding.ASCII.GetBytes(text.ToString()).Concat(body).ToArray();

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(url.Host), url.Port));
        var buffer = new byte[AnswerBufferBytes];
        while (true)
        {
            await socket.SendAsync(request, SocketFlags.None);

            // The receiver answers 200 with no body: the answer ends with its headers.
            var filled = 0;
            while (buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8) < 0)
            {
                if (filled == buffer.Length)
                {
                    throw new IOException($"the receiver's answer has more than {AnswerBufferBytes} bytes of headers");
                }

                var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                if (read == 0)
                {
                    throw new IOException("the receiver closed the connection");
                }

                filled += read;
            }

            // A body would arrive after the headers, and be taken for the next answer's start.
            var answer = buffer.AsSpan(0, filled);
            if (!answer.StartsWith("HTTP/1.1 200 "u8) || answer.IndexOf("\r\nContent-Length: 0\r\n"u8) < 0)
            {
                throw new IOException("the receiver answered: " + Encoding.ASCII.GetString(buffer, 0, Math.Min(filled, 64)));
            }

            Interlocked.Increment(ref _answered);
        }
    }

    private static async Task ClientLoopAsync(HttpMessageInvoker invoker, Uri url, IReadOnlyList<(string Name, string Value)> headers, byte[] body)
    {
        var contentType = new MediaTypeHeaderValue("application/octet-stream");
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ReadOnlyMemoryContent(body) };
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            request.Content.Headers.ContentType = contentType;
            using var response = await invoker.SendAsync(request, CancellationToken.None);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new IOException($"the receiver answered {(int)response.StatusCode}");
            }

            Interlocked.Increment(ref _answered);
        }
    }
}
