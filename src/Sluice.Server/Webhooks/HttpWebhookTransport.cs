using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;
using Sluice.Server.Topics;

namespace Sluice.Server.Webhooks;

/// <summary>
/// The webhook calls: one <see cref="HttpClient"/> over a pooled <see cref="SocketsHttpHandler"/> whose connect step checks
/// the address actually connected to against the <see cref="SsrfGuard"/>; no redirects, no cookies; a per-call timeout;
/// Standard Webhooks signatures; reply bodies read only when they are to be forwarded, and then at most maxMessageBytes.
/// </summary>
internal sealed partial class HttpWebhookTransport : IWebhookTransport, IDisposable
{
    public const string ReplyTopicHeader = "Sluice-Reply-Topic";
    public const string ReplyKeyHeader = "Sluice-Reply-Key";

    /// <summary>Pulsar Beam's reply header: its users' functions keep working.</summary>
    public const string BeamTopicFnHeader = "TopicFn";

    private static readonly MediaTypeHeaderValue OctetStream = new("application/octet-stream");

    private const string UserAgent = "Sluice-Webhooks/1";

    // An HttpMessageInvoker, not an HttpClient: the client's default headers, its own timeout and the linked cancellation
    // source it makes for every request are all unused here (the timeout is per webhook), and they cost per call.
    private readonly HttpMessageInvoker _client;

    // What a call needs of its webhook that does not change between calls, worked out once per registration.
    private readonly ConditionalWeakTable<WebhookDefinition, Target> _targets = new();
    private readonly SsrfGuard _guard;
    private readonly TopicDirectory _topics;
    private readonly IMessageLog _log;
    private readonly Partitioner _partitioner;
    private readonly TimeProvider _time;
    private readonly ILogger<HttpWebhookTransport> _logger;
    private readonly int _maxReplyBytes;
    private readonly bool _sameTenantReplies;
    private readonly Dictionary<string, string> _katewayApps;
    private readonly ConditionalWeakTable<WebhookDefinition, Target>.CreateValueCallback _newTarget;

    public HttpWebhookTransport(SsrfGuard guard, TopicDirectory topics, IMessageLog log, Partitioner partitioner, IOptions<ServerOptions> options, TimeProvider time, ILogger<HttpWebhookTransport> logger)
    {
        _guard = guard;
        _topics = topics;
        _log = log;
        _partitioner = partitioner;
        _time = time;
        _logger = logger;
        _maxReplyBytes = options.Value.MaxMessageBytes;
        _sameTenantReplies = options.Value.AuthMode == Security.AuthMode.Jwt;
        _katewayApps = options.Value.KatewayApps;
        _newTarget = NewTarget;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),

            // Connections are re-made (and so re-resolved and re-checked) every few minutes: DNS can change.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ConnectCallback = ConnectAsync,

            // Receivers are third parties: the gateway's trace context is not theirs to see.
            ActivityHeadersPropagator = null,
        };
        _client = new HttpMessageInvoker(handler);
    }

    public void Dispose() => _client.Dispose();

    private Target NewTarget(WebhookDefinition webhook) => new(webhook)
    {
        AppSignature = webhook.Dialect == WebhookDialect.Kateway && _katewayApps.TryGetValue(webhook.Topic.Tenant, out var secret)
            ? Compat.CompatWebhookHeaders.AppSignature(webhook.Topic.Tenant, secret)
            : null,
    };

    public async ValueTask<WebhookCallResult> SendAsync(WebhookDefinition webhook, Delivery delivery, CancellationToken cancellationToken)
    {
        var record = delivery.Record;
        using var span = Diagnostics.MessageTracing.StartProcess(delivery.Topic, webhook.Subscription, record);
        var body = record.Value ?? ReadOnlyMemory<byte>.Empty;
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new ReadOnlyMemoryContent(body) };
        AddHeaders(request, webhook, _targets.GetValue(webhook, _newTarget), delivery, body.Span);

        using var timeout = new CancellationTokenSource(webhook.Timeout, _time);

        // The dispatcher's calls are not cancelled from outside (they finish, bounded by the timeout): no linked source then.
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken) : null;
        var token = linked?.Token ?? timeout.Token;
        try
        {
            // Like HttpClient's ResponseHeadersRead: the body is read only when a reply is forwarded.
            using var response = await _client.SendAsync(request, token);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                return await ForwardReplyAsync(webhook, response, token);
            }

            if (status == 429)
            {
                return new WebhookCallResult(WebhookCallOutcome.Retry, status, "HTTP 429", RetryAfter(response));
            }

            if (status == 408 || status >= 500)
            {
                return new WebhookCallResult(WebhookCallOutcome.Retry, status, $"HTTP {status}", status == 503 ? RetryAfter(response) : null, EndpointFailure: true);
            }

            return new WebhookCallResult(WebhookCallOutcome.Reject, status, status is >= 300 and < 400 ? $"HTTP {status} (redirects are not followed)" : $"HTTP {status}");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new WebhookCallResult(WebhookCallOutcome.Retry, null, $"timeout after {(long)webhook.Timeout.TotalMilliseconds} ms", EndpointFailure: true);
        }
        catch (HttpRequestException ex) when (FindRefusal(ex) is { } refusal)
        {
            return new WebhookCallResult(WebhookCallOutcome.Reject, null, refusal.Message);
        }
        catch (HttpRequestException ex)
        {
            var socket = FindSocketError(ex);
            return new WebhookCallResult(WebhookCallOutcome.Retry, null, $"connection error: {ex.HttpRequestError}" + (socket is { } s ? $" ({s})" : ""), EndpointFailure: true);
        }
    }

    private void AddHeaders(HttpRequestMessage request, WebhookDefinition webhook, Target target, Delivery delivery, ReadOnlySpan<byte> body)
    {
        var record = delivery.Record;
        var headers = request.Headers;
        foreach (var (name, value) in webhook.Headers)
        {
            headers.TryAddWithoutValidation(name, value);
        }

        if (!target.HasUserAgent)
        {
            headers.TryAddWithoutValidation("User-Agent", UserAgent);
        }

        string? contentType = null;
        foreach (var (name, value) in record.Headers)
        {
            if (string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
            else
            {
                headers.TryAddWithoutValidation(WebhookHeaders.MessageHeaderPrefix + name, value);
            }
        }

        request.Content!.Headers.ContentType = contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed
            : (webhook.Dialect == WebhookDialect.Sluice ? null : Compat.CompatWebhookHeaders.ContentType(webhook, body)) ?? OctetStream;
        if (webhook.Dialect != WebhookDialect.Sluice)
        {
            // A compatibility API's webhook: its ancestor's headers too, so receivers written for it keep working.
            Compat.CompatWebhookHeaders.Add(headers, webhook, delivery, target.AppSignature);
        }

        // Stable across retries, so a receiver can drop duplicates by it (the specification's advice).
        var id = $"msg_{webhook.Id}_{delivery.Partition}_{record.Offset}";
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        headers.TryAddWithoutValidation(WebhookHeaders.Id, id);
        headers.TryAddWithoutValidation(WebhookHeaders.Timestamp, timestamp.ToString(CultureInfo.InvariantCulture));
        headers.TryAddWithoutValidation(WebhookHeaders.Signature, target.Sign(id, timestamp, body));

        headers.TryAddWithoutValidation(WebhookHeaders.WebhookId, webhook.Id);
        headers.TryAddWithoutValidation(WebhookHeaders.MessageId, delivery.MessageId);
        headers.TryAddWithoutValidation(WebhookHeaders.Topic, delivery.Topic == webhook.Topic ? target.Topic : delivery.Topic.ToString());
        headers.TryAddWithoutValidation(WebhookHeaders.PublishTime, record.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        headers.TryAddWithoutValidation(WebhookHeaders.Attempt, delivery.DeliveryAttempt.ToString(CultureInfo.InvariantCulture));
        if (record.Key is { } key)
        {
            if (IsPrintableUtf8(key.Span, out var text))
            {
                headers.TryAddWithoutValidation(WebhookHeaders.Key, text);
            }
            else
            {
                headers.TryAddWithoutValidation(WebhookHeaders.Key, Convert.ToBase64String(key.Span));
                headers.TryAddWithoutValidation(WebhookHeaders.KeyEncoding, "base64");
            }
        }
    }

    private async ValueTask<WebhookCallResult> ForwardReplyAsync(WebhookDefinition webhook, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var topicText = Header(response, ReplyTopicHeader) ?? Header(response, BeamTopicFnHeader);
        if (topicText is null)
        {
            return status == 200 ? WebhookCallResult.Success : WebhookCallResult.Success with { StatusCode = status };
        }

        // Pulsar Beam names topics persistent://tenant/namespace/name.
        var schemeEnd = topicText.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            topicText = topicText[(schemeEnd + 3)..];
        }

        TopicName topic;
        try
        {
            topic = TopicName.Parse(topicText);
            if (topic.IsInternal)
            {
                throw new InvalidNameException($"topic '{topic}' is internal");
            }
        }
        catch (InvalidNameException ex)
        {
            Log.ReplyDropped(_logger, webhook.Id, ex.Message);
            return WebhookCallResult.Success with { StatusCode = status };
        }

        // The forward acts as the webhook's owner, whose tenant is the webhook topic's: with authentication on, a reply
        // may only go to a topic of that tenant (else dropped, logged), so a webhook cannot write into another tenant.
        if (_sameTenantReplies && topic.Tenant != webhook.Topic.Tenant)
        {
            Log.ReplyDropped(_logger, webhook.Id, $"reply topic '{topic}' is outside the webhook's tenant '{webhook.Topic.Tenant}'");
            return WebhookCallResult.Success with { StatusCode = status };
        }

        var body = await ReadCappedAsync(response.Content, _maxReplyBytes, cancellationToken);
        if (body is null)
        {
            Log.ReplyDropped(_logger, webhook.Id, $"the reply body is larger than maxMessageBytes ({_maxReplyBytes})");
            return WebhookCallResult.Success with { StatusCode = status };
        }

        if (body.Length == 0)
        {
            return WebhookCallResult.Success with { StatusCode = status };
        }

        List<KeyValuePair<string, string>>? headers = null;
        if (response.Content.Headers.ContentType is { } contentType)
        {
            headers = [new("content-type", contentType.ToString())];
        }

        ReadOnlyMemory<byte>? key = Header(response, ReplyKeyHeader) is { } k ? Encoding.UTF8.GetBytes(k) : null;
        try
        {
            var partitions = await _topics.GetPartitionCountAsync(topic, create: true, cancellationToken);
            var partition = _partitioner.Choose(key is { } kk ? kk.Span : default, key is not null, partitions);
            await _log.AppendAsync(topic, partition, [new RecordToAppend(key, body, headers)], cancellationToken);
        }
        catch (Exception ex) when (ex is ProblemException or TopicNotFoundException or RecordTooLargeException)
        {
            Log.ReplyDropped(_logger, webhook.Id, ex.Message);
            return WebhookCallResult.Success with { StatusCode = status };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The log failed: call again later, so the reply is not lost (at-least-once, like everything else).
            Log.ReplyFailed(_logger, webhook.Id, topic.ToString(), ex);
            _topics.Forget(topic);
            return new WebhookCallResult(WebhookCallOutcome.Retry, status, "forwarding the reply failed: " + ex.GetType().Name);
        }

        return WebhookCallResult.Success with { StatusCode = status };
    }

    private static async ValueTask<byte[]?> ReadCappedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is { } length && length > limit)
        {
            return null;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endPoint = context.DnsEndPoint;
        var addresses = IPAddress.TryParse(endPoint.Host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endPoint.Host, cancellationToken);
        Exception? last = null;
        foreach (var address in addresses)
        {
            if (!_guard.IsAllowed(address))
            {
                last = new SsrfRefusedException($"connect refused by the SSRF guard: {endPoint.Host} resolves to internal address {address}");
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endPoint.Port), cancellationToken);

                // Judge the address actually connected to, not only the one asked for.
                if (socket.RemoteEndPoint is IPEndPoint remote && !_guard.IsAllowed(remote.Address))
                {
                    throw new SsrfRefusedException($"connect refused by the SSRF guard: connected to internal address {remote.Address}");
                }

                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (Exception ex)
            {
                socket.Dispose();
                last = ex;
                if (ex is OperationCanceledException)
                {
                    throw;
                }
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private static SsrfRefusedException? FindRefusal(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SsrfRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }

    private static SocketError? FindSocketError(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SocketException s)
            {
                return s.SocketErrorCode;
            }
        }

        return null;
    }

    private static string? Header(HttpResponseMessage response, string name)
    {
        // The raw value: these headers are plain text, and looking one up this way parses nothing.
        if (response.Headers.NonValidated.TryGetValues(name, out var values))
        {
            foreach (var value in values)
            {
                return value;
            }
        }

        return null;
    }

    /// <summary><c>Retry-After</c> as seconds or an HTTP date; null when absent or in the past.</summary>
    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var retryAfter = response.Headers.RetryAfter;
        if (retryAfter?.Delta is { } delta)
        {
            return delta;
        }

        if (retryAfter?.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : null;
        }

        return null;
    }

    private static bool IsPrintableUtf8(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return false;
        }

        text = Encoding.UTF8.GetString(bytes);
        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    private sealed class SsrfRefusedException(string message) : IOException(message);

    /// <summary>A registration's signer (keyed from its secret) and topic text.</summary>
    private sealed class Target(WebhookDefinition webhook)
    {
        private readonly byte[] _key = WebhookSigner.Key(webhook.Secret);

        // Keyed HMAC instances, one per caller signing at once (a handful): taken and put back per message. They go with
        // the registration (this object lives as long as its definition).
        private readonly System.Collections.Concurrent.ConcurrentBag<HMACSHA256> _macs = [];

        public string Topic { get; } = webhook.Topic.ToString();

        /// <summary>kateway's <c>X-App-Signature</c> for its webhooks, when the topic's app has a secret.</summary>
        public string? AppSignature { get; init; }

        /// <summary>The registration sets its own <c>User-Agent</c>, which then replaces the gateway's.</summary>
        public bool HasUserAgent { get; } = webhook.Headers.Keys.Any(name => string.Equals(name, "User-Agent", StringComparison.OrdinalIgnoreCase));

        public string Sign(string id, long timestamp, ReadOnlySpan<byte> body)
        {
            if (!_macs.TryTake(out var mac))
            {
                mac = new HMACSHA256(_key);
            }

            try
            {
                return WebhookSigner.Sign(mac, id, timestamp, body);
            }
            finally
            {
                _macs.Add(mac);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.WebhookReplyDropped, Level = LogLevel.Warning, Message = "Webhook {Id}: reply not forwarded: {Reason}")]
        public static partial void ReplyDropped(ILogger logger, string id, string reason);

        [LoggerMessage(EventId = LogEvents.WebhookReplyFailed, Level = LogLevel.Error, Message = "Webhook {Id}: forwarding the reply to {Topic} failed; the message will be sent again")]
        public static partial void ReplyFailed(ILogger logger, string id, string topic, Exception exception);
    }
}
