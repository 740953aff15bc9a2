using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;

namespace Sluice.Server.Security;

/// <summary>
/// The keys of <c>auth:jwksUrl</c>: fetched at start, again every <c>auth:jwksRefreshMs</c>, and when a token names a
/// key id nobody knows (an identity provider rotated its keys), at most once per <c>auth:jwksMinRefreshIntervalMs</c>
/// however many such tokens arrive: tokens with made-up ids cannot make the server hammer the provider.
/// <code>
///   token with unknown kid ──► last fetch older than the minimum interval? ──► one fetch, shared by every waiter
///                                                                     else ──► refused as unknown (401)
///   a fetch that fails keeps the keys it had (logged); a key it cannot use is skipped (logged), the others taken
/// </code>
/// </summary>
internal sealed partial class JwksClient : IDisposable
{
    /// <summary>1 MiB: a key set is a few KiB; more is not a key set.</summary>
    private const int MaxDocumentBytes = 1024 * 1024;

    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);

    private readonly Uri _url;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _minInterval;
    private readonly Lock _gate = new();
    private volatile IReadOnlyList<JwtKey> _keys = [];
    private Task? _fetching;
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;

    public JwksClient(ServerOptions options, TimeProvider time, ILogger logger)
    {
        _url = new Uri(options.JwksUrl ?? throw new ArgumentException("no auth:jwksUrl", nameof(options)));
        _time = time;
        _logger = logger;
        _minInterval = TimeSpan.FromMilliseconds(options.JwksMinRefreshIntervalMs);

        // No redirects: the key set comes from the configured address, not from wherever it points.
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = FetchTimeout }) { Timeout = FetchTimeout };
    }

    public IReadOnlyList<JwtKey> Keys => _keys;

    /// <summary>Fetches now unless a fetch is under way (then waits for that one). Never throws: failures are logged.</summary>
    public Task RefreshAsync()
    {
        lock (_gate)
        {
            _lastAttempt = _time.GetUtcNow();
            return _fetching ??= FetchAsync();
        }
    }

    /// <summary>A token named an unknown key id: fetch again, unless the last fetch is more recent than the minimum interval.</summary>
    public Task RefreshForUnknownKeyAsync()
    {
        lock (_gate)
        {
            if (_fetching is { } running)
            {
                return running;
            }

            if (_time.GetUtcNow() - _lastAttempt < _minInterval)
            {
                return Task.CompletedTask;
            }
        }

        return RefreshAsync();
    }

    public void Dispose() => _http.Dispose();

    private async Task FetchAsync()
    {
        try
        {
            await Task.Yield(); // never run under _gate
            using var response = await _http.GetAsync(_url, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Log.FetchFailed(_logger, _url.GetLeftPart(UriPartial.Path), $"HTTP {(int)response.StatusCode}");
                return;
            }

            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
            {
                Log.FetchFailed(_logger, _url.GetLeftPart(UriPartial.Path), $"the key set is larger than {MaxDocumentBytes} bytes");
                return;
            }

            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new MemoryStream();
            await body.CopyToAsync(new LimitedStream(buffer, MaxDocumentBytes));
            var keys = Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            if (keys is not null)
            {
                _keys = keys;
                Log.Fetched(_logger, _url.GetLeftPart(UriPartial.Path), keys.Count, string.Join(", ", keys.Select(k => k.Kid)));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or InvalidDataException)
        {
            Log.FetchFailed(_logger, _url.GetLeftPart(UriPartial.Path), ex.GetType().Name + ": " + ex.Message);
        }
        finally
        {
            lock (_gate)
            {
                _fetching = null;
            }
        }
    }

    // Null when the document is not a key set at all (the keys held stay); else every key it has that can be used.
    private List<JwtKey>? Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException)
        {
            Log.FetchFailed(_logger, _url.GetLeftPart(UriPartial.Path), "the answer is not JSON");
            return null;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array)
            {
                Log.FetchFailed(_logger, _url.GetLeftPart(UriPartial.Path), "the answer has no \"keys\" array");
                return null;
            }

            var keys = new List<JwtKey>();
            var index = 0;
            foreach (var jwk in array.EnumerateArray())
            {
                try
                {
                    if (JwtKeySet.FromJwk(jwk, allowSymmetric: false) is { } key)
                    {
                        keys.Add(key);
                    }
                }
                catch (Exception ex) when (ex is FormatException or KeyNotFoundException or InvalidOperationException or CryptographicException or ArgumentException)
                {
                    // Providers publish keys for other algorithms too (PS256, P-384, encryption): those are not ours.
                    Log.KeySkipped(_logger, index, ex is FormatException ? ex.Message : ex.GetType().Name);
                }

                index++;
            }

            return keys;
        }
    }

    /// <summary>Stops copying past a size instead of buffering whatever a broken or hostile server sends.</summary>
    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _written += buffer.Length;
            if (_written > limit)
            {
                throw new InvalidDataException($"the key set is larger than {limit} bytes");
            }

            inner.Write(buffer);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.JwksFetched, Level = LogLevel.Information, Message = "Fetched the JSON Web Key Set from {Url}: {Count} usable key(s): {KeyIds}")]
        public static partial void Fetched(ILogger logger, string url, int count, string keyIds);

        [LoggerMessage(EventId = LogEvents.JwksFetchFailed, Level = LogLevel.Warning, Message = "Fetching the JSON Web Key Set from {Url} failed ({Reason}); the keys held so far stay in use")]
        public static partial void FetchFailed(ILogger logger, string url, string reason);

        [LoggerMessage(EventId = LogEvents.JwksKeySkipped, Level = LogLevel.Information, Message = "Skipped key #{Index} of the JSON Web Key Set: {Reason}")]
        public static partial void KeySkipped(ILogger logger, int index, string reason);
    }
}
