using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Http;

/// <summary>
/// The http sink of one replicator: one pooled connection set whose connect step refuses addresses the SSRF guard
/// refuses (checked on the address actually connected to: DNS can change), no redirects, a timeout per request.
/// <code>
///   2xx ──► written      408, 429, 5xx, timeout, connection error ──► retry (Retry-After honoured)
///   other 4xx, 3xx ──► refused (a batch: the engine splits it until the refused record is alone)
/// </code>
/// </summary>
internal sealed class HttpSink : IReplicationSink
{
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "host", "content-type", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "upgrade", "te", "trailer", "proxy-connection", "expect", "idempotency-key",
    };

    private readonly HttpSinkSettings _settings;
    private readonly IOutboundAddressPolicy _policy;
    private readonly TimeProvider _time;
    private readonly HttpMessageInvoker _client;

    public HttpSink(HttpSinkSettings settings, IOutboundAddressPolicy policy, TimeProvider time)
    {
        _settings = settings;
        _policy = policy;
        _time = time;
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            // Checks the address actually connected to, whatever the name resolved to when the replicator was registered.
            ConnectCallback = (context, cancellationToken) => OutboundConnections.ConnectAsync(_policy, context.DnsEndPoint, cancellationToken),
            ActivityHeadersPropagator = null,
        });
    }

    public static bool ReservedHeader(string name)
        => Reserved.Contains(name) || name.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("sluice-", StringComparison.OrdinalIgnoreCase);

    public async ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
    {
        if (_settings.Format != HttpSinkFormat.Single)
        {
            var last = batch.Records[^1].Offset;
            var id = $"{batch.Topic}/{batch.Partition}/{batch.FirstOffset}-{last}";
            // Pooled: returned once the request is answered and disposed (SendAsync), never while the handler may read it.
            using var body = SinkRecordJson.Encode(batch.Records, _settings.Format == HttpSinkFormat.Ndjson);
            var contentType = _settings.Format == HttpSinkFormat.Ndjson ? "application/x-ndjson" : "application/json";
            var result = await SendAsync(batch, id, body.WrittenSegment, contentType, null, cancellationToken).ConfigureAwait(false);
            return result.Outcome == SinkWriteOutcome.Refused && batch.Records.Count == 1 ? SinkWriteResult.Refused(result.Error!, 0) : result;
        }

        for (var i = 0; i < batch.Records.Count; i++)
        {
            var record = batch.Records[i];
            var contentType = record.Headers.LastOrDefault(h => string.Equals(h.Key, "content-type", StringComparison.OrdinalIgnoreCase)).Value ?? "application/octet-stream";
            var result = await SendAsync(batch, record.IdempotencyKey, new ArraySegment<byte>(record.ValueArray() ?? []), contentType, record, cancellationToken).ConfigureAwait(false);
            switch (result.Outcome)
            {
                case SinkWriteOutcome.Retry:
                    return SinkWriteResult.Retry(result.Error!, result.RetryAfter, acknowledged: i);
                case SinkWriteOutcome.Refused:
                    return SinkWriteResult.Refused(result.Error!, i, acknowledged: i);
            }
        }

        return SinkWriteResult.Written;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<SinkWriteResult> SendAsync(SinkBatch batch, string id, ArraySegment<byte> body, string contentType, SinkRecord? single, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, batch.Target) { Content = new ByteArrayContent(body.Array!, body.Offset, body.Count) };
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            mediaType = new MediaTypeHeaderValue("application/octet-stream");
        }

        request.Content.Headers.ContentType = mediaType;
        var headers = request.Headers;
        headers.TryAddWithoutValidation("Idempotency-Key", id);
        headers.TryAddWithoutValidation("Sluice-Topic", batch.Topic.ToString());
        headers.TryAddWithoutValidation("Sluice-Partition", batch.Partition.ToString(CultureInfo.InvariantCulture));
        if (single is null)
        {
            headers.TryAddWithoutValidation("Sluice-Record-Count", batch.Records.Count.ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            AddRecordHeaders(headers, single);
        }

        foreach (var (name, value) in _settings.Headers)
        {
            headers.TryAddWithoutValidation(name, value);
        }

        if (_settings.NewMac() is { } mac)
        {
            using (mac)
            {
                var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
                headers.TryAddWithoutValidation("webhook-id", id);
                headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
                // Signed as "{id}.{timestamp}.{body}" without copying the body behind the prefix.
                var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
                mac.TransformBlock(prefix, 0, prefix.Length, null, 0);
                mac.TransformFinalBlock(body.Array!, body.Offset, body.Count);
                headers.TryAddWithoutValidation("webhook-signature", "v1," + Convert.ToBase64String(mac.Hash!));
            }
        }

        using var timeout = new CancellationTokenSource(_settings.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            using var response = await _client.SendAsync(request, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                return SinkWriteResult.Written;
            }

            if (status is 408 or 429 or >= 500)
            {
                return SinkWriteResult.Retry($"HTTP {status}", status is 429 or 503 ? RetryAfter(response) : null);
            }

            return SinkWriteResult.Refused(status is >= 300 and < 400 ? $"HTTP {status} (redirects are not followed)" : $"HTTP {status}");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return SinkWriteResult.Retry($"timeout after {(long)_settings.Timeout.TotalMilliseconds} ms");
        }
        catch (HttpRequestException ex)
        {
            // The message names the host and port at most; the URL's query (which could carry a token) is not in it.
            return SinkWriteResult.Retry("connection failed: " + (ex.InnerException?.Message ?? ex.Message));
        }
    }

    private static void AddRecordHeaders(HttpRequestHeaders headers, SinkRecord record)
    {
        headers.TryAddWithoutValidation("Sluice-Offset", record.Offset.ToString(CultureInfo.InvariantCulture));
        headers.TryAddWithoutValidation("Sluice-Publish-Time", record.PublishTime.ToString("O", CultureInfo.InvariantCulture));
        if (record.Value is null)
        {
            headers.TryAddWithoutValidation("Sluice-Tombstone", "true");
        }

        if (record.Key is { } key)
        {
            if (Utf8.IsValid(key.Span) && !key.Span.ContainsAnyInRange((byte)0, (byte)31))
            {
                headers.TryAddWithoutValidation("Sluice-Key", Encoding.UTF8.GetString(key.Span));
            }
            else
            {
                headers.TryAddWithoutValidation("Sluice-Key", Convert.ToBase64String(key.Span));
                headers.TryAddWithoutValidation("Sluice-Key-Encoding", "base64");
            }
        }

        foreach (var (name, value) in record.Headers)
        {
            if (!string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !value.Any(char.IsControl))
            {
                headers.TryAddWithoutValidation("Sluice-Header-" + name, value);
            }
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - _time.GetUtcNow() : null;
    }
}
