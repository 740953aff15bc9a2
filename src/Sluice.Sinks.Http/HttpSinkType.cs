using System.Security.Cryptography;
using Sluice.Core.Replication;

[assembly: ReplicationSink(typeof(Sluice.Sinks.Http.HttpSinkType))]

namespace Sluice.Sinks.Http;

/// <summary>
/// <c>"type": "http"</c>: POSTs batches to a URL as a JSON array or NDJSON, or one request per message
/// (<c>format</c>: <c>json</c>, <c>ndjson</c>, <c>single</c>), signed like webhooks (Standard Webhooks) when
/// <c>signingSecret</c> is set, with an <c>Idempotency-Key</c>. Addresses are checked by the gateway's SSRF guard.
/// </summary>
public sealed class HttpSinkType : ReplicationSinkType
{
    public override string Name => "http";

    public override string TargetField => "url";

    public override object ReadSettings(SinkSettings settings)
    {
        var format = settings.OneOf("format", "json", "ndjson", "single") switch
        {
            "ndjson" => HttpSinkFormat.Ndjson,
            "single" => HttpSinkFormat.Single,
            _ => HttpSinkFormat.Json,
        };
        byte[]? key = null;
        if (settings.String("signingSecret") is { } secret)
        {
            // Never echo the value: it is (or should be) a secret reference.
            Span<byte> buffer = stackalloc byte[67];
            if (!secret.StartsWith("whsec_", StringComparison.Ordinal) || !Convert.TryFromBase64String(secret["whsec_".Length..], buffer, out var length) || length is < 24 or > 64)
            {
                throw SinkSettings.Error("signingSecret", "must be 'whsec_' followed by the base64 of 24 to 64 bytes (the Standard Webhooks form)");
            }

            key = buffer[..length].ToArray();
        }

        var headers = settings.StringMap("headers", 32) ?? new Dictionary<string, string>();
        foreach (var (name, value) in headers)
        {
            if (name.Length is 0 or > 256 || !name.All(c => c > ' ' && c < 127 && c is not (':' or '(' or ')' or ',' or '/' or ';' or '<' or '=' or '>' or '?' or '@' or '[' or '\\' or ']' or '{' or '}' or '"'))
                || HttpSink.ReservedHeader(name))
            {
                SinkSettings.Fail("headers", $"header '{name}' is not a header name the sink may set (not webhook-*, Sluice-*, Idempotency-Key, Content-*, Host or hop-by-hop ones)");
            }

            if (value.Length > 8192 || value.Any(c => char.IsControl(c) && c != '\t'))
            {
                SinkSettings.Fail($"headers.{name}", "must be at most 8192 characters without control characters");
            }
        }

        var timeout = TimeSpan.FromMilliseconds(settings.Integer("timeoutMs", 10, 600_000) ?? 10_000);
        return new HttpSinkSettings(format, key, headers, timeout);
    }

    public override async ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(target, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            return "the url must be an absolute http or https URL";
        }

        return await Policy(context).CheckUrlAsync(url, cancellationToken).ConfigureAwait(false);
    }

    public override IReplicationSink CreateSink(object settings, SinkContext context)
        => new HttpSink((HttpSinkSettings)settings, Policy(context), context.Time);

    private static IOutboundAddressPolicy Policy(SinkContext context)
        => context.Services.GetService(typeof(IOutboundAddressPolicy)) as IOutboundAddressPolicy
            ?? throw new InvalidOperationException("the gateway registers no IOutboundAddressPolicy: the http sink will not call unchecked addresses");
}

internal enum HttpSinkFormat
{
    Json,
    Ndjson,
    Single,
}

internal sealed record HttpSinkSettings(HttpSinkFormat Format, byte[]? SigningKey, IReadOnlyDictionary<string, string> Headers, TimeSpan Timeout)
{
    public HMACSHA256? NewMac() => SigningKey is null ? null : new HMACSHA256(SigningKey);
}
