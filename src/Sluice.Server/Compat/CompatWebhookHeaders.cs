using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;

namespace Sluice.Server.Compat;

/// <summary>
/// The per-message headers of an ancestor's webhooks, sent besides Sluice's own (<see cref="WebhookDialect"/>):
/// <code>
///   Pulsar Beam  PulsarTopic: persistent://t/n/x   PulsarMessageId: p:o   PulsarPublishedTime: 2026-01-02 15:04:05.123 +0000 UTC
///                PulsarProperties-{name}: value (each message header)   Content-Type: application/json for JSON payloads
///   kateway      X-Partition: p   X-Offset: o   X-App-Signature: base64url(sha256("{appid}:{secret}")) when the app has a secret
/// </code>
/// </summary>
internal static class CompatWebhookHeaders
{
    public static void Add(HttpRequestHeaders headers, WebhookDefinition webhook, Delivery delivery, string? appSignature)
    {
        var record = delivery.Record;
        switch (webhook.Dialect)
        {
            case WebhookDialect.PulsarBeam:
                headers.TryAddWithoutValidation("PulsarTopic", "persistent://" + delivery.Topic);
                headers.TryAddWithoutValidation("PulsarMessageId", delivery.MessageId);
                headers.TryAddWithoutValidation("PulsarPublishedTime", GoTime(record.Timestamp));
                foreach (var (name, value) in record.Headers)
                {
                    if (!string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase))
                    {
                        headers.TryAddWithoutValidation("PulsarProperties-" + name, value);
                    }
                }

                break;

            case WebhookDialect.Kateway:
                headers.TryAddWithoutValidation("X-Partition", delivery.Partition.ToString(CultureInfo.InvariantCulture));
                headers.TryAddWithoutValidation("X-Offset", record.Offset.ToString(CultureInfo.InvariantCulture));
                if (appSignature is not null)
                {
                    headers.TryAddWithoutValidation("X-App-Signature", appSignature);
                }

                break;
        }
    }

    /// <summary>Beam marked JSON payloads as such when the message did not say its content type.</summary>
    public static MediaTypeHeaderValue? ContentType(WebhookDefinition webhook, ReadOnlySpan<byte> body)
        => webhook.Dialect == WebhookDialect.PulsarBeam && body.Length > 0 && IsJson(body) ? new MediaTypeHeaderValue("application/json") : null;

    /// <summary>kateway's app signature: base64url of SHA-256 over <c>{appid}:{secret}</c>.</summary>
    public static string AppSignature(string appid, string secret)
        => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes($"{appid}:{secret}"))).Replace('+', '-').Replace('/', '_');

    /// <summary>Go's <c>time.Time.String()</c> in UTC: <c>2006-01-02 15:04:05.999999999 +0000 UTC</c>.</summary>
    internal static string GoTime(DateTimeOffset time)
        => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture) + " +0000 UTC";

    private static bool IsJson(ReadOnlySpan<byte> body)
    {
        // A complete read validates the whole text (one value, nothing after it) without building anything.
        var reader = new Utf8JsonReader(body);
        try
        {
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
