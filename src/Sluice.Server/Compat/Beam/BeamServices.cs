using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Core.Webhooks;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Security;
using Sluice.Server.Streaming;
using Sluice.Server.Subscriptions;
using Sluice.Server.Topics;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Compat.Beam;

/// <summary>What Beam's handlers use, resolved once when the routes are mapped (not per request).</summary>
internal sealed class BeamServices(IServiceProvider services)
{
    public ServerOptions Options { get; } = services.GetRequiredService<IOptions<ServerOptions>>().Value;

    public BeamAccess Access { get; } = services.GetRequiredService<BeamAccess>();

    public CompatProducer Producer { get; } = services.GetRequiredService<CompatProducer>();

    public BeamDocumentStore Documents { get; } = services.GetRequiredService<BeamDocumentStore>();

    public ISubscriptionService Subscriptions { get; } = services.GetRequiredService<ISubscriptionService>();

    public SubscriptionDirectory SubscriptionDirectory { get; } = services.GetRequiredService<SubscriptionDirectory>();

    public TopicDirectory Topics { get; } = services.GetRequiredService<TopicDirectory>();

    public IWebhookService Webhooks { get; } = services.GetRequiredService<IWebhookService>();

    public SsrfGuard Ssrf { get; } = services.GetRequiredService<SsrfGuard>();

    public TenantQuotas Quotas { get; } = services.GetRequiredService<TenantQuotas>();

    public StreamRegistry Streams { get; } = services.GetRequiredService<StreamRegistry>();

    public SluiceMetrics Metrics { get; } = services.GetRequiredService<SluiceMetrics>();

    public StreamingMetrics StreamingMetrics { get; } = services.GetRequiredService<StreamingMetrics>();

    public TimeProvider Time { get; } = services.GetRequiredService<TimeProvider>();

    public CancellationToken Stopping { get; } = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

    public ILogger Logger { get; } = services.GetRequiredService<ILoggerFactory>().CreateLogger("Sluice.Server.Compat.Beam");
}
