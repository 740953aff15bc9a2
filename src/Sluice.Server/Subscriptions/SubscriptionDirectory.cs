using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Creates a subscription with the configured defaults the first time a pull names it, and remembers which
/// subscriptions exist so a pull does not ask the engine each time.
/// </summary>
internal sealed class SubscriptionDirectory(ISubscriptionService service, IOptions<ServerOptions> options, Security.TenantQuotas quotas)
{
    private readonly ConcurrentDictionary<(TopicName Topic, string Name), byte> _known = new();

    /// <summary>The settings a subscription gets when a pull, or a PUT without those fields, creates it.</summary>
    public SubscriptionSettings DefaultSettings { get; } = new() { AckDeadline = TimeSpan.FromMilliseconds(options.Value.AckDeadlineMs) };

    public async ValueTask EnsureAsync(TopicName topic, string name, CancellationToken cancellationToken)
    {
        if (_known.ContainsKey((topic, name)))
        {
            return;
        }

        if (await service.GetAsync(topic, name, cancellationToken) is null)
        {
            await quotas.CheckSubscriptionAsync(topic, cancellationToken);
            await service.CreateOrUpdateAsync(topic, name, DefaultSettings, cancellationToken);
        }

        _known.TryAdd((topic, name), 0);
    }

    public void Remember(TopicName topic, string name) => _known.TryAdd((topic, name), 0);

    public void Forget(TopicName topic, string name) => _known.TryRemove((topic, name), out _);

    public void ForgetTopic(TopicName topic)
    {
        foreach (var key in _known.Keys)
        {
            if (key.Topic == topic)
            {
                _known.TryRemove(key, out _);
            }
        }
    }
}
