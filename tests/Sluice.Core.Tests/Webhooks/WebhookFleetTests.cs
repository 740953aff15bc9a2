using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Tests.Fakes;
using Sluice.Core.Tests.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;

namespace Sluice.Core.Tests.Webhooks;

/// <summary>Two gateway instances (engine + webhook service each) over one log: registrations made on one run on both.</summary>
public sealed class WebhookFleetTests : IAsyncDisposable
{
    private static readonly TopicName Topic = new("t", "ns", "hooks");
    private readonly MemoryLog _log = new(TimeProvider.System);
    private readonly GroupCoordinator _group;
    private readonly ConcurrentQueue<(string Instance, string MessageId)> _calls = new();
    private readonly SubscriptionService _engineA;
    private readonly SubscriptionService _engineB;
    private readonly WebhookService _a;
    private readonly WebhookService _b;

    public WebhookFleetTests()
    {
        _group = new GroupCoordinator(_log);
        (_engineA, _a) = NewInstance("a");
        (_engineB, _b) = NewInstance("b");
    }

    [Fact]
    public async Task WebhookRegisteredOnOne_RunsOnBoth_AndEachMessageIsDeliveredOnce()
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        await _a.StartAsync();
        await _b.StartAsync();

        await _a.PutAsync(Webhook("w1"));
        await _b.SyncAsync();
        Assert.NotNull(_b.Get("w1"));

        // Both workers joined the subscription's group: each delivers one partition.
        await EngineHarness.EventuallyAsync(async () => (await _group.AssignmentAsync(Topic, IWebhookService.DefaultSubscription("w1"))).Count == 2);
        for (var i = 0; i < 20; i++)
        {
            await _log.AppendAsync(Topic, i % 2, [new RecordToAppend(null, Encoding.UTF8.GetBytes($"m{i}"))]);
        }

        await EngineHarness.EventuallyAsync(() => Task.FromResult(_calls.Count >= 20));
        var calls = _calls.ToList();
        Assert.Equal(20, calls.Select(c => c.MessageId).Distinct().Count());
        Assert.Equal(["a", "b"], calls.Select(c => c.Instance).Distinct().Order());
    }

    [Fact]
    public async Task PauseAndDeleteOnOne_ReachTheOther()
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await _a.StartAsync();
        await _b.StartAsync();
        await _a.PutAsync(Webhook("w2"));

        await _b.SetPausedAsync("w2", paused: true);
        await _a.SyncAsync();
        Assert.True(_a.Get("w2")!.Paused);

        Assert.True(await _b.DeleteAsync("w2"));
        await _a.SyncAsync();
        Assert.Null(_a.Get("w2"));
    }

    public async ValueTask DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _engineA.DisposeAsync();
        await _engineB.DisposeAsync();
    }

    private static WebhookDefinition Webhook(string id) => new()
    {
        Id = id,
        Topic = Topic,
        Subscription = IWebhookService.DefaultSubscription(id),
        Url = new Uri("http://receiver.test/hook"),
        Secret = "whsec_" + Convert.ToBase64String(new byte[24]),
        Concurrency = 4,
    };

    private (SubscriptionService Engine, WebhookService Webhooks) NewInstance(string name)
    {
        var coordinator = _group.For(name);
        var engine = new SubscriptionService(_log, TimeProvider.System, Options.Create(new DeliveryOptions()), NullLoggerFactory.Instance, coordinator);
        var webhooks = new WebhookService(engine, new RecordingTransport(name, _calls), _log, Options.Create(new WebhookOptions()), TimeProvider.System, NullLogger<WebhookService>.Instance, coordinator);
        return (engine, webhooks);
    }

    private sealed class RecordingTransport(string instance, ConcurrentQueue<(string, string)> calls) : IWebhookTransport
    {
        public ValueTask<WebhookCallResult> SendAsync(WebhookDefinition webhook, Delivery delivery, CancellationToken cancellationToken)
        {
            calls.Enqueue((instance, delivery.MessageId));
            return ValueTask.FromResult(WebhookCallResult.Success);
        }
    }
}
