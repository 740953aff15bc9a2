using Microsoft.AspNetCore.Connections.Features;
using Sluice.Core.Filters;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// A consumer group's subscription as a sub, bury or ack request names it: the caller's app and <c>?group=</c> (or the
/// route's <c>:group</c>), on the topic <c>{appid}/{topic}/{ver}</c> or its <c>q=retry|dead</c> queue, filtered by the
/// request's <c>X-Tag</c>. Checked in kateway's order: group (400), credentials (401), the rest (400).
/// </summary>
/// <param name="Caller">The calling app.</param>
/// <param name="Origin">The topic itself, <c>{appid}/{topic}/{ver}</c>.</param>
/// <param name="Topic">What the request reads: <paramref name="Origin"/>, or its retry or dead queue for this group.</param>
/// <param name="Group">kateway's group name.</param>
/// <param name="Subscription">The group's subscription on <paramref name="Topic"/>.</param>
/// <param name="Tags">The <c>X-Tag</c> filter, sorted; null for none.</param>
internal sealed record KatewayGroup(Caller Caller, TopicName Origin, TopicName Topic, string Group, string Subscription, IReadOnlyList<string>? Tags)
{
    public string App => KatewayAccess.AppOf(Caller);

    public static KatewayGroup Parse(HttpContext context, KatewayServices kateway, string? group, string shadowError = "invalid shadow name")
    {
        group = KatewayNames.Group(group);
        var caller = kateway.Access.Authenticate(context, "Subkey");
        var origin = KatewayNames.Topic(KatewayNames.RouteApp(context), context);
        kateway.Access.Require(caller, origin, Permission.Consume);
        var app = KatewayAccess.AppOf(caller);
        var topic = KatewayNames.Shadow(context.Request.Query["q"], shadowError) is { } shadow ? KatewayNames.ShadowTopic(origin, app, group, shadow) : origin;

        var tags = KatewayNames.Tags(context);
        var subscription = KatewayNames.Subscription(app, group, tags);
        if (!TopicName.IsValidPart(subscription, out _))
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "illegal group");
        }

        return new KatewayGroup(caller, origin, topic, group, subscription, tags);
    }

    /// <summary>
    /// Creates the subscription on first use (shared, from the oldest message, as a new kateway group started) with the
    /// tag filter; <c>reset=newest|oldest</c> moves it, once per connection, as kateway reset a group when a connection
    /// joined it. Returns its settings.
    /// </summary>
    public async ValueTask<SubscriptionSettings> EnsureAsync(HttpContext context, KatewayServices kateway, CancellationToken cancellationToken)
    {
        await kateway.Topics.GetPartitionCountAsync(Topic, create: true, cancellationToken);
        var settings = await kateway.Subscriptions.GetSettingsAsync(Topic, Subscription, cancellationToken);
        if (settings is null)
        {
            await kateway.Quotas.CheckSubscriptionAsync(Topic, cancellationToken);
            var wanted = kateway.SubscriptionDirectory.DefaultSettings with
            {
                Type = SubscriptionType.Shared,
                Position = StartPosition.Earliest,
                Filter = Tags is null ? null : MessageFilter.Parse(KatewayNames.TagFilter(Tags)),
            };
            settings = (await kateway.Subscriptions.CreateOrUpdateAsync(Topic, Subscription, wanted, cancellationToken)).Settings;
            kateway.SubscriptionDirectory.Remember(Topic, Subscription);
        }

        var reset = context.Request.Query["reset"].ToString();
        if (reset is "newest" or "oldest" && context.Features.Get<IConnectionItemsFeature>()?.Items is { } items)
        {
            var key = (nameof(KatewayGroup), Topic, Subscription);
            if (!items.ContainsKey(key))
            {
                items[key] = true;
                await kateway.Subscriptions.SeekAsync(Topic, Subscription, reset == "newest" ? StartPosition.Latest : StartPosition.Earliest, cancellationToken);
            }
        }

        return settings;
    }
}
