using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Turns a topic document's webhooks into Sluice webhooks (retries with backoff, circuit breaker, dead letter,
/// Standard Webhooks signature), which also carry Beam's headers (<see cref="WebhookDialect.PulsarBeam"/>) and forward a
/// reply body to the topic its <c>TopicFn</c> header names. One Sluice webhook per document and URL, id
/// <c>beam-{sha1(key + url)}</c> (Beam also ran one consumer per document and URL). <c>webhookStatus</c> 1 calls, 2
/// (suspended) pauses, 0 and 3 have no webhook.
/// </summary>
internal static class BeamWebhooks
{
    /// <summary>Beam's checks of a document's webhooks (422 with its messages), before anything is stored.</summary>
    public static void Validate(BeamTopicDocument document)
    {
        var exclusive = new HashSet<string>(StringComparer.Ordinal);
        foreach (var webhook in document.Webhooks ?? [])
        {
            if (!Uri.TryCreate(webhook.Url, UriKind.Absolute, out var url) || url.Host.Length == 0)
            {
                CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"not a URL {webhook.Url}");
            }

            if (string.IsNullOrWhiteSpace(webhook.Subscription))
            {
                CompatException.Throw(StatusCodes.Status422UnprocessableEntity, "subscription name is missing");
            }

            if (TypeOf(webhook) == SubscriptionType.Exclusive && !exclusive.Add(webhook.Subscription))
            {
                CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"exclusive subscription {webhook.Subscription} cannot be shared between multiple webhooks");
            }

            _ = PositionOf(webhook);
            if (!TopicName.IsValidPart(webhook.Subscription, out var reason))
            {
                CompatException.Throw(StatusCodes.Status422UnprocessableEntity, $"subscription name {webhook.Subscription} {reason}");
            }
        }
    }

    public static string Id(string key, string url) => "beam-" + Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(key + url)));

    /// <summary>
    /// Makes the Sluice webhooks what <paramref name="document"/> says: creates or updates those of its active and
    /// suspended webhooks, deletes the others and those of <paramref name="previous"/> it no longer lists.
    /// </summary>
    public static async ValueTask ApplyAsync(BeamServices beam, TopicName topic, BeamTopicDocument document, BeamTopicDocument? previous, CancellationToken cancellationToken)
    {
        var wanted = new Dictionary<string, BeamWebhookConfig>(StringComparer.Ordinal);
        foreach (var webhook in document.Webhooks ?? [])
        {
            if (webhook.WebhookStatus is BeamWebhookConfig.Activated or BeamWebhookConfig.Suspended)
            {
                wanted[Id(document.Key!, webhook.Url!)] = webhook;
            }
        }

        await beam.Webhooks.SyncAsync(cancellationToken);
        foreach (var (id, webhook) in wanted)
        {
            await PutAsync(beam, id, topic, webhook, cancellationToken);
        }

        var stale = (document.Webhooks ?? []).Concat(previous?.Webhooks ?? []).Select(w => Id(document.Key!, w.Url ?? "")).Where(id => !wanted.ContainsKey(id));
        foreach (var id in stale.Distinct(StringComparer.Ordinal))
        {
            await beam.Webhooks.DeleteAsync(id, cancellationToken);
        }
    }

    /// <summary>Deletes the Sluice webhooks of a document (their subscriptions stay, as Pulsar's did).</summary>
    public static async ValueTask DeleteAllAsync(BeamServices beam, BeamTopicDocument document, CancellationToken cancellationToken)
    {
        await beam.Webhooks.SyncAsync(cancellationToken);
        foreach (var webhook in document.Webhooks ?? [])
        {
            await beam.Webhooks.DeleteAsync(Id(document.Key!, webhook.Url ?? ""), cancellationToken);
        }
    }

    private static async ValueTask PutAsync(BeamServices beam, string id, TopicName topic, BeamWebhookConfig config, CancellationToken cancellationToken)
    {
        var url = new Uri(config.Url!, UriKind.Absolute);
        if (await beam.Ssrf.CheckUrlAsync(url, cancellationToken) is { } refused)
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, refused);
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in config.Headers ?? [])
        {
            // "Name: value"; ':' may appear in the value. Beam dropped malformed entries, and so does this.
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[header[..colon].Trim()] = header[(colon + 1)..].Trim();
            }
        }

        var previous = beam.Webhooks.Get(id);

        // Exclusive, failover and key_shared keep order (per key through retries): a key_shared subscription; shared does not.
        var ordering = TypeOf(config) == SubscriptionType.Shared ? WebhookOrdering.None : WebhookOrdering.PerKey;
        var subscription = config.Subscription!;
        if (await beam.Subscriptions.GetSettingsAsync(topic, subscription, cancellationToken) is null)
        {
            // Created here, at the document's initial position (a webhook would start at the latest message); it stays
            // when the webhook goes, as a Pulsar subscription did.
            await beam.Topics.GetPartitionCountAsync(topic, create: true, cancellationToken);
            await beam.Quotas.CheckSubscriptionAsync(topic, cancellationToken);
            var type = ordering == WebhookOrdering.None ? SubscriptionType.Shared : SubscriptionType.KeyShared;
            var settings = beam.SubscriptionDirectory.DefaultSettings with { Type = type, Position = PositionOf(config) };
            await beam.Subscriptions.CreateOrUpdateAsync(topic, subscription, settings, cancellationToken);
        }

        if (previous is null)
        {
            beam.Quotas.CheckWebhook(topic);
        }

        var webhook = new WebhookDefinition
        {
            Id = id,
            Topic = topic,
            Subscription = subscription,
            Url = url,
            Headers = WebhookEndpoints.CheckHeaders(headers),
            Secret = previous?.Secret ?? WebhookSigner.NewSecret(),
            Ordering = ordering,
            Paused = config.WebhookStatus == BeamWebhookConfig.Suspended,
            CreatedAt = previous?.CreatedAt ?? beam.Time.GetUtcNow(),
            Dialect = WebhookDialect.PulsarBeam,
        };
        await beam.Webhooks.PutAsync(webhook, cancellationToken);
    }

    private static SubscriptionType TypeOf(BeamWebhookConfig webhook) => (webhook.SubscriptionType ?? "").ToLowerInvariant() switch
    {
        "exclusive" or "" => SubscriptionType.Exclusive,
        "shared" => SubscriptionType.Shared,
        "keyshared" => SubscriptionType.KeyShared,
        "failover" => SubscriptionType.Failover,
        _ => throw new CompatException(StatusCodes.Status422UnprocessableEntity, $"unsupported subscription type {webhook.SubscriptionType}"),
    };

    private static StartPosition PositionOf(BeamWebhookConfig webhook) => (webhook.InitialPosition ?? "").ToLowerInvariant() switch
    {
        "latest" or "" => StartPosition.Latest,
        "earliest" => StartPosition.Earliest,
        _ => throw new CompatException(StatusCodes.Status422UnprocessableEntity, $"invalid subscription initial position {webhook.InitialPosition}"),
    };
}
