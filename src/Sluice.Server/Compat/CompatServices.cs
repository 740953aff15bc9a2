using Microsoft.Extensions.Options;
using Sluice.Core.Delay;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Security;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Compat;

/// <summary>What every compatibility API's handlers use, resolved once when the routes are mapped (not per request).</summary>
internal abstract class CompatServices(IServiceProvider services, string category)
{
    public ServerOptions Options { get; } = services.GetRequiredService<IOptions<ServerOptions>>().Value;

    public CompatProducer Producer { get; } = services.GetRequiredService<CompatProducer>();

    public ISubscriptionService Subscriptions { get; } = services.GetRequiredService<ISubscriptionService>();

    public SubscriptionDirectory SubscriptionDirectory { get; } = services.GetRequiredService<SubscriptionDirectory>();

    public TopicDirectory Topics { get; } = services.GetRequiredService<TopicDirectory>();

    public IWebhookService Webhooks { get; } = services.GetRequiredService<IWebhookService>();

    public SsrfGuard Ssrf { get; } = services.GetRequiredService<SsrfGuard>();

    public TenantQuotas Quotas { get; } = services.GetRequiredService<TenantQuotas>();

    public SluiceMetrics Metrics { get; } = services.GetRequiredService<SluiceMetrics>();

    public IDelayService Delays { get; } = services.GetRequiredService<IDelayService>();

    public TimeProvider Time { get; } = services.GetRequiredService<TimeProvider>();

    public CancellationToken Stopping { get; } = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

    public ILogger Logger { get; } = services.GetRequiredService<ILoggerFactory>().CreateLogger(category);
}
