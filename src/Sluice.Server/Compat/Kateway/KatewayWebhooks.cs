using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;
using Sluice.Server.Hosting;
using Sluice.Server.Security;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// <c>PUT /v1/webhooks/:appid/:topic/:ver?group=</c> with <c>{"endpoints": [url, ...]}</c> and <c>DELETE</c> of the same:
/// each endpoint becomes a Sluice webhook of the topic (at-least-once: retries with backoff, circuit breaker, dead
/// letter, signature; kateway's were at-most-once), whose calls also carry kateway's <c>X-Partition</c>, <c>X-Offset</c>
/// and <c>X-App-Signature</c>. Like kateway's, a new webhook starts at the topic's oldest message. A PUT replaces the
/// topic's list: endpoints no longer listed are removed, with their subscriptions.
/// </summary>
internal static class KatewayWebhooks
{
    private const int MaxBodyBytes = 64 * 1024;
    private const int MaxEndpoints = 32;

    public static async Task PutAsync(HttpContext context, KatewayServices kateway)
    {
        var topic = Authorize(context, kateway);
        var body = await HttpRequestReader.ReadBodyAsync(context, MaxBodyBytes, "the webhook");
        KatewayWebhookRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(body, KatewayJsonContext.Default.KatewayWebhookRequest);
        }
        catch (JsonException ex)
        {
            throw new CompatException(StatusCodes.Status400BadRequest, ex.Message.Split(" Path:")[0]);
        }

        var endpoints = (request?.Endpoints ?? []).Distinct(StringComparer.Ordinal).ToList();
        if (endpoints.Count > MaxEndpoints)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, $"at most {MaxEndpoints} endpoints");
        }

        var urls = new List<Uri>(endpoints.Count);
        foreach (var endpoint in endpoints)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var url))
            {
                CompatException.Throw(StatusCodes.Status400BadRequest, $"parse {endpoint}: invalid URI for request");
            }

            if (await kateway.Ssrf.CheckUrlAsync(url, context.RequestAborted) is { } refused)
            {
                CompatException.Throw(StatusCodes.Status400BadRequest, refused);
            }

            urls.Add(url);
        }

        await kateway.Topics.GetPartitionCountAsync(topic, create: true, context.RequestAborted);
        await kateway.Webhooks.SyncAsync(context.RequestAborted);
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var url in urls)
        {
            var id = Id(topic, url.OriginalString);
            wanted.Add(id);
            await PutOneAsync(kateway, id, topic, url, context.RequestAborted);
        }

        await DeleteAsync(kateway, topic, keep: wanted, context.RequestAborted);
        KatewayPub.WriteOk(context.Response);
    }

    public static async Task DeleteAsync(HttpContext context, KatewayServices kateway)
    {
        var topic = Authorize(context, kateway);
        await kateway.Webhooks.SyncAsync(context.RequestAborted);
        await DeleteAsync(kateway, topic, keep: [], context.RequestAborted);
        KatewayPub.WriteOk(context.Response);
    }

    private static TopicName Authorize(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Subkey");
        var topic = KatewayNames.Topic(KatewayNames.RouteApp(context), context);
        kateway.Access.Require(caller, topic, Permission.Consume);
        return topic;
    }

    private static string Id(TopicName topic, string url) => "kateway-" + Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(topic + "\n" + url)));

    private static async ValueTask PutOneAsync(KatewayServices kateway, string id, TopicName topic, Uri url, CancellationToken cancellationToken)
    {
        var previous = kateway.Webhooks.Get(id);
        var subscription = IWebhookService.DefaultSubscription(id);
        if (await kateway.Subscriptions.GetSettingsAsync(topic, subscription, cancellationToken) is null)
        {
            // From the oldest message, as kateway's webhook group started; deleted with the webhook (see DeleteAsync).
            await kateway.Quotas.CheckSubscriptionAsync(topic, cancellationToken);
            var settings = kateway.SubscriptionDirectory.DefaultSettings with { Type = SubscriptionType.Shared, Position = StartPosition.Earliest };
            await kateway.Subscriptions.CreateOrUpdateAsync(topic, subscription, settings, cancellationToken);
        }

        if (previous is null)
        {
            kateway.Quotas.CheckWebhook(topic);
        }

        await kateway.Webhooks.PutAsync(new WebhookDefinition
        {
            Id = id,
            Topic = topic,
            Subscription = subscription,
            Url = url,
            Secret = previous?.Secret ?? WebhookSigner.NewSecret(),
            Paused = previous?.Paused ?? false,
            CreatedAt = previous?.CreatedAt ?? kateway.Time.GetUtcNow(),
            Dialect = WebhookDialect.Kateway,
        }, cancellationToken);
    }

    private static async ValueTask DeleteAsync(KatewayServices kateway, TopicName topic, HashSet<string> keep, CancellationToken cancellationToken)
    {
        foreach (var webhook in kateway.Webhooks.List())
        {
            if (webhook.Dialect == WebhookDialect.Kateway && webhook.Topic == topic && !keep.Contains(webhook.Id))
            {
                await kateway.Webhooks.DeleteAsync(webhook.Id, cancellationToken);
                await kateway.Subscriptions.DeleteAsync(webhook.Topic, webhook.Subscription, cancellationToken);
                kateway.SubscriptionDirectory.Forget(webhook.Topic, webhook.Subscription);
            }
        }
    }
}
