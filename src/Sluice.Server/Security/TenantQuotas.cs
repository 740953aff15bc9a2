using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Security;

/// <summary>
/// Quotas per tenant on topics, subscriptions and webhooks (<c>quotas:*</c>, 0 = none), checked before each
/// creation, explicit or on first use: over quota answers 409 <c>quota-exceeded</c> and creates nothing.
/// Creations racing each other may overshoot by the number in flight; creation is rare, so the count is taken
/// from the registry each time rather than cached.
/// </summary>
internal sealed partial class TenantQuotas(IOptions<ServerOptions> options, IMessageLog log, IServiceProvider services, ILogger<TenantQuotas> logger)
{
    private readonly ServerOptions _options = options.Value;

    public async ValueTask CheckTopicAsync(TopicName topic, CancellationToken cancellationToken)
    {
        if (_options.TopicsPerTenant <= 0)
        {
            return;
        }

        var count = (await log.ListTopicsAsync(cancellationToken)).Count(t => t.Tenant == topic.Tenant);
        if (count >= _options.TopicsPerTenant)
        {
            Refuse(topic.Tenant, "topics", _options.TopicsPerTenant, "quotas:topicsPerTenant");
        }
    }

    public async ValueTask CheckSubscriptionAsync(TopicName topic, CancellationToken cancellationToken)
    {
        if (_options.SubscriptionsPerTenant <= 0)
        {
            return;
        }

        var subscriptions = services.GetRequiredService<ISubscriptionService>();
        var count = 0;
        foreach (var t in await log.ListTopicsAsync(cancellationToken))
        {
            if (t.Tenant == topic.Tenant)
            {
                count += (await subscriptions.ListAsync(t, cancellationToken)).Count;
            }
        }

        if (count >= _options.SubscriptionsPerTenant)
        {
            Refuse(topic.Tenant, "subscriptions", _options.SubscriptionsPerTenant, "quotas:subscriptionsPerTenant");
        }
    }

    public void CheckWebhook(TopicName topic)
    {
        if (_options.WebhooksPerTenant <= 0)
        {
            return;
        }

        var count = services.GetRequiredService<IWebhookService>().List().Count(w => w.Topic.Tenant == topic.Tenant);
        if (count >= _options.WebhooksPerTenant)
        {
            Refuse(topic.Tenant, "webhooks", _options.WebhooksPerTenant, "quotas:webhooksPerTenant");
        }
    }

    private void Refuse(string tenant, string what, int quota, string option)
    {
        Log.QuotaReached(logger, ProblemWriter.Printable(tenant, 100), what, quota);
        ProblemException.Throw(ProblemKind.QuotaExceeded,
            $"tenant '{ProblemWriter.Printable(tenant, 100)}' has reached its quota of {quota} {what} ({option}); delete some first");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.QuotaReached, Level = LogLevel.Information, Message = "Tenant {Tenant} reached its quota of {Quota} {What}")]
        public static partial void QuotaReached(ILogger logger, string tenant, string what, int quota);
    }
}
