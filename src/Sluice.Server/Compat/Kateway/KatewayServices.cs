using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Security;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Compat.Kateway;

/// <summary>What kateway's handlers use, resolved once when the routes are mapped (not per request).</summary>
internal sealed class KatewayServices(IServiceProvider services)
{
    public ServerOptions Options { get; } = services.GetRequiredService<IOptions<ServerOptions>>().Value;

    public KatewayAccess Access { get; } = services.GetRequiredService<KatewayAccess>();

    public KatewayLedger Ledger { get; } = services.GetRequiredService<KatewayLedger>();

    public CompatProducer Producer { get; } = services.GetRequiredService<CompatProducer>();

    public IMessageLog Log { get; } = services.GetRequiredService<IMessageLog>();

    public ISubscriptionService Subscriptions { get; } = services.GetRequiredService<ISubscriptionService>();

    public SubscriptionDirectory SubscriptionDirectory { get; } = services.GetRequiredService<SubscriptionDirectory>();

    public TopicDirectory Topics { get; } = services.GetRequiredService<TopicDirectory>();

    public IWebhookService Webhooks { get; } = services.GetRequiredService<IWebhookService>();

    public SsrfGuard Ssrf { get; } = services.GetRequiredService<SsrfGuard>();

    public TenantQuotas Quotas { get; } = services.GetRequiredService<TenantQuotas>();

    public SluiceMetrics Metrics { get; } = services.GetRequiredService<SluiceMetrics>();

    public TimeProvider Time { get; } = services.GetRequiredService<TimeProvider>();

    public CancellationToken Stopping { get; } = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

    public ILogger Logger { get; } = services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Compat.Kateway");
}
