using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Tests.Fakes;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>An engine over a <see cref="MemoryLog"/> and a <see cref="ManualTimeProvider"/>; <see cref="Restart"/> builds a new engine over the same log.</summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    /// <summary>Guards against a hang only (a failing test should fail, not stall the run); never a timing assertion.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    /// <summary>A receive wait on the manual clock: it never ends by itself, so a receive returns when messages arrive.</summary>
    public static readonly TimeSpan LongWait = TimeSpan.FromMinutes(10);

    public static readonly TopicName Topic = new("t", "ns", "orders");

    private readonly DeliveryOptions _options;

    public EngineHarness(DeliveryOptions? options = null)
    {
        _options = options ?? new DeliveryOptions();
        Time = new ManualTimeProvider();
        Log = new MemoryLog(Time);
        Engine = NewEngine();
    }

    public ManualTimeProvider Time { get; }

    public MemoryLog Log { get; }

    public SubscriptionService Engine { get; private set; }

    /// <summary>Abandons the current engine without flushing (as a crash would) and starts a new one over the same log.</summary>
    public SubscriptionService Restart()
    {
        Engine = NewEngine();
        return Engine;
    }

    public async Task CreateTopicAsync(int partitions = 1, TopicName? topic = null)
        => await Log.CreateTopicAsync(topic ?? Topic, new TopicSettings { Partitions = partitions });

    public async Task ProduceAsync(int count, int partition = 0, Func<int, string?>? key = null, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        for (var i = 0; i < count; i++)
        {
            var k = key?.Invoke(i);
            await Log.AppendAsync(Topic, partition, [new RecordToAppend(k is null ? null : Encoding.UTF8.GetBytes(k), Encoding.UTF8.GetBytes($"m{i}"), headers)]);
        }
    }

    public Task<SubscriptionInfo> SubscribeAsync(SubscriptionType type = SubscriptionType.Shared, string name = "sub", Func<SubscriptionSettings, SubscriptionSettings>? configure = null)
    {
        var settings = new SubscriptionSettings { Type = type, Position = StartPosition.Earliest };
        return Engine.CreateOrUpdateAsync(Topic, name, configure is null ? settings : configure(settings)).AsTask();
    }

    public Task<ISubscriptionConsumer> OpenAsync(string consumer, string name = "sub") => Engine.OpenConsumerAsync(Topic, name, consumer).AsTask();

    /// <summary>The subscription's counts (waiting receivers, wake-ups, deliveries), or null when it has none.</summary>
    public SubscriptionCounts? Counts(string name = "sub")
    {
        var counts = new List<SubscriptionCounts>();
        Engine.CollectCounts(counts);
        return counts.SingleOrDefault(c => c.Name == name);
    }

    /// <summary>Receives until <paramref name="count"/> messages arrived (each receive returns as soon as some are available).</summary>
    public static async Task<List<Delivery>> ReceiveAtLeastAsync(ISubscriptionConsumer consumer, int count)
    {
        var all = new List<Delivery>();
        while (all.Count < count)
        {
            all.AddRange(await consumer.ReceiveAsync(count - all.Count, LongWait).AsTask().WaitAsync(HangGuard));
        }

        return all;
    }

    /// <summary>Waits (bounded by <see cref="HangGuard"/>) for a condition reached by background work.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        using var guard = new CancellationTokenSource(HangGuard);
        while (!await condition())
        {
            await Task.Delay(5, guard.Token);
        }
    }

    // Polls until the handle is parked (the subscription counts `waiting` receivers then; the call may first read the
    // log, whose pending read it awaits); the wait to await.
    public static async Task<ValueTask> ParkedAsync(EngineHarness h, ISubscriptionConsumer consumer, int waiting)
    {
        for (var i = 0; i < 100; i++)
        {
            Assert.Empty(consumer.Poll(10, out var wait));
            var pending = wait ?? throw new InvalidOperationException("answered interrupted while parking");
            if (!pending.IsCompleted && h.Counts()!.WaitingReceivers == waiting)
            {
                return pending;
            }

            await pending.AsTask().WaitAsync(EngineHarness.HangGuard);
        }

        throw new InvalidOperationException("never parked");
    }

    public Task<AckResult> AckAsync(IEnumerable<Delivery> deliveries, string name = "sub")
        => Engine.AckAsync(Topic, name, deliveries.Select(d => d.AckId).ToList()).AsTask();

    public Task<AckResult> NackAsync(IEnumerable<Delivery> deliveries, TimeSpan delay, string name = "sub")
        => Engine.NackAsync(Topic, name, deliveries.Select(d => d.AckId).ToList(), delay).AsTask();

    public ValueTask DisposeAsync() => Engine.DisposeAsync();

    private SubscriptionService NewEngine() => new(Log, Time, Options.Create(_options), NullLoggerFactory.Instance);
}
