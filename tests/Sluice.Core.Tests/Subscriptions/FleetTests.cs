using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Tests.Fakes;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// Two engines over one log with a shared group coordinator: two gateway instances of a fleet. Each test drives them
/// through the public engine API only; what one instance does must be seen by the other through the log.
/// </summary>
public sealed class FleetTests : IAsyncDisposable
{
    private static readonly TopicName Topic = new("t", "ns", "fleet");
    private readonly ManualTimeProvider _time = new();
    private readonly MemoryLog _log;
    private readonly GroupCoordinator _group;
    private readonly SubscriptionService _a;
    private readonly SubscriptionService _b;

    public FleetTests()
    {
        _log = new MemoryLog(_time);
        _group = new GroupCoordinator(_log);
        _a = NewEngine("a");
        _b = NewEngine("b");
    }

    [Fact]
    public async Task SubscriptionCreatedOnOne_IsServedByTheOther()
    {
        await CreateTopicAsync(2);
        await _a.CreateOrUpdateAsync(Topic, "sub", new SubscriptionSettings { Type = SubscriptionType.Shared, Position = StartPosition.Earliest, MaxDeliveries = 7 });

        var seen = await _b.GetAsync(Topic, "sub");

        Assert.NotNull(seen);
        Assert.Equal(7, seen.Settings.MaxDeliveries);
        Assert.Equal(["sub"], await _b.ListAsync(Topic));
    }

    [Fact]
    public async Task Flush_OnAnInstanceHoldingNoPartitionOfASubscription_Completes()
    {
        // What a gateway does on shutdown: b has loaded the subscription a created, but holds none of its partitions (no
        // consumer there, no assignment yet), so it has no cursor of it to write. The flush must not wait for one.
        await CreateTopicAsync(2);
        await SubscribeAsync();
        Assert.Equal(["sub"], await _b.ListAsync(Topic));

        await _b.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await _a.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ConsumersOnBothInstances_SplitThePartitions_AndGetEveryMessageOnce()
    {
        await CreateTopicAsync(4);
        await SubscribeAsync();
        await using var onA = await _a.OpenConsumerAsync(Topic, "sub", "ca");
        await using var onB = await _b.OpenConsumerAsync(Topic, "sub", "cb");
        await ProduceAsync(40);

        var fromA = new List<Delivery>();
        var fromB = new List<Delivery>();
        await EngineHarness.EventuallyAsync(async () =>
        {
            fromA.AddRange(await onA.ReceiveAsync(100, TimeSpan.Zero));
            fromB.AddRange(await onB.ReceiveAsync(100, TimeSpan.Zero));
            return fromA.Count + fromB.Count >= 40;
        });
        await _a.AckAsync(Topic, "sub", fromA.Select(d => d.AckId).ToList());
        await _b.AckAsync(Topic, "sub", fromB.Select(d => d.AckId).ToList());

        var assignment = await _group.AssignmentAsync(Topic, "sub");
        Assert.Equal(new[] { 0, 2 }, assignment["a"]);
        Assert.Equal(new[] { 1, 3 }, assignment["b"]);
        Assert.All(fromA, d => Assert.Contains(d.Partition, assignment["a"]));
        Assert.All(fromB, d => Assert.Contains(d.Partition, assignment["b"]));
        var ids = fromA.Concat(fromB).Select(d => d.MessageId).ToList();
        Assert.Equal(40, ids.Count);
        Assert.Equal(40, ids.Distinct().Count());
    }

    [Fact]
    public async Task PullOnOne_AckOnTheOther_IsApplied_AndNothingIsRedelivered()
    {
        await CreateTopicAsync(2);
        await SubscribeAsync();
        await using var onA = await _a.OpenConsumerAsync(Topic, "sub", "ca");
        await ProduceAsync(10);
        var got = await EngineHarness.ReceiveAtLeastAsync(onA, 10);

        var ack = await _b.AckAsync(Topic, "sub", got.Select(d => d.AckId).ToList());

        Assert.Equal(10, ack.Succeeded);
        await EngineHarness.EventuallyAsync(async () =>
        {
            var info = await _a.GetAsync(Topic, "sub");
            return info!.Backlog == 0 && info.InFlight == 0;
        });

        // Past the ack deadline: an ack that had been lost would show as a redelivery now.
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Empty(await onA.ReceiveAsync(100, TimeSpan.Zero));

        // The owner's cursor is durable: what another instance reads from the cursor topic is all acked.
        await EngineHarness.EventuallyAsync(async () => (await _b.GetAsync(Topic, "sub"))!.Backlog == 0);
    }

    [Fact]
    public async Task InstanceCrash_ItsPartitionsMove_AndItsUnackedMessagesAreRedelivered()
    {
        await CreateTopicAsync(2);
        await SubscribeAsync();
        var onA = await _a.OpenConsumerAsync(Topic, "sub", "ca");
        await using var onB = await _b.OpenConsumerAsync(Topic, "sub", "cb");
        await ProduceAsync(20);
        var fromA = new List<Delivery>();
        var fromB = new List<Delivery>();
        await EngineHarness.EventuallyAsync(async () =>
        {
            fromA.AddRange(await onA.ReceiveAsync(100, TimeSpan.Zero));
            fromB.AddRange(await onB.ReceiveAsync(100, TimeSpan.Zero));
            return fromA.Count + fromB.Count >= 20;
        });

        // A acks half of what it got, then dies without handing over.
        var ackedByA = fromA.Take(fromA.Count / 2).ToList();
        await _a.AckAsync(Topic, "sub", ackedByA.Select(d => d.AckId).ToList());
        await _b.AckAsync(Topic, "sub", fromB.Select(d => d.AckId).ToList());
        await _group.Crash("a");

        var again = await EngineHarness.ReceiveAtLeastAsync(onB, fromA.Count - ackedByA.Count);

        Assert.Equal(
            fromA.Skip(ackedByA.Count).Select(d => d.MessageId).Order(),
            again.Select(d => d.MessageId).Order());
        var assignment = await _group.AssignmentAsync(Topic, "sub");
        Assert.Equal(new[] { 0, 1 }, assignment["b"]);
    }

    [Fact]
    public async Task GracefulLeave_HandsOverAckedStateWithoutRedelivery()
    {
        await CreateTopicAsync(2);
        await SubscribeAsync();
        await using var onB = await _b.OpenConsumerAsync(Topic, "sub", "cb");
        var onA = await _a.OpenConsumerAsync(Topic, "sub", "ca");
        await ProduceAsync(10);
        var fromA = new List<Delivery>();
        await EngineHarness.EventuallyAsync(async () =>
        {
            fromA.AddRange(await onA.ReceiveAsync(100, TimeSpan.Zero));
            return fromA.Count >= 5;
        });
        await _a.AckAsync(Topic, "sub", fromA.Select(d => d.AckId).ToList());

        // A's consumer goes; after the session timeout A leaves the group and B takes A's partition.
        await onA.DisposeAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        await EngineHarness.EventuallyAsync(async () => (await _group.AssignmentAsync(Topic, "sub")).Keys.SequenceEqual(["b"]));

        var fromB = await EngineHarness.ReceiveAtLeastAsync(onB, 10 - fromA.Count);
        Assert.Empty(fromB.Select(d => d.MessageId).Intersect(fromA.Select(d => d.MessageId)));
        Assert.Empty(await onB.ReceiveAsync(100, TimeSpan.Zero));
    }

    [Fact]
    public async Task SeekOnOne_MovesTheOwnersStream()
    {
        await CreateTopicAsync(1);
        await SubscribeAsync();
        await using var onA = await _a.OpenConsumerAsync(Topic, "sub", "ca");
        await ProduceAsync(5);
        var first = await EngineHarness.ReceiveAtLeastAsync(onA, 5);
        await _a.AckAsync(Topic, "sub", first.Select(d => d.AckId).ToList());

        await _b.SeekAsync(Topic, "sub", StartPosition.Earliest);

        var again = await EngineHarness.ReceiveAtLeastAsync(onA, 5);
        Assert.Equal(first.Select(d => d.MessageId), again.Select(d => d.MessageId));
    }

    [Fact]
    public async Task DeleteOnOne_EndsTheConsumersOfTheOther()
    {
        await CreateTopicAsync(1);
        await SubscribeAsync();
        await using var onA = await _a.OpenConsumerAsync(Topic, "sub", "ca");

        Assert.True(await _b.DeleteAsync(Topic, "sub"));

        await EngineHarness.EventuallyAsync(() => Task.FromResult(onA.Ended.IsCancellationRequested));
        Assert.Null(await _a.GetAsync(Topic, "sub"));
    }

    [Fact]
    public async Task DeletedWhileJoining_LeavesTheGroupOnceTheJoinCompletes()
    {
        // The first consumer's join is still under way when another instance deletes the subscription: the deletion
        // finds no membership to leave yet. Once the join completes the instance must leave the dead generation's
        // group, not hold its partitions for good.
        await CreateTopicAsync(2);
        await SubscribeAsync();
        _group.HoldJoins();
        var opening = _a.OpenConsumerAsync(Topic, "sub", "ca").AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_group.JoinsHeld == 1));

        Assert.True(await _b.DeleteAsync(Topic, "sub"));
        await EngineHarness.EventuallyAsync(async () => await _a.GetAsync(Topic, "sub") is null);
        _group.ReleaseJoins();
        await using var consumer = await opening.WaitAsync(EngineHarness.HangGuard);

        await EngineHarness.EventuallyAsync(async () => (await _group.MembersAsync(Topic, "sub")).Count == 0);
        Assert.True(consumer.Ended.IsCancellationRequested);
    }

    public async ValueTask DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private SubscriptionService NewEngine(string instance)
        => new(_log, _time, Options.Create(new DeliveryOptions()), NullLoggerFactory.Instance, _group.For(instance));

    private async Task CreateTopicAsync(int partitions)
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = partitions });

        // Both instances load their state before the test acts, as a started gateway has.
        await _a.StartAsync();
        await _b.StartAsync();
    }

    private Task<SubscriptionInfo> SubscribeAsync()
        => _a.CreateOrUpdateAsync(Topic, "sub", new SubscriptionSettings { Type = SubscriptionType.Shared, Position = StartPosition.Earliest }).AsTask();

    private async Task ProduceAsync(int count)
    {
        var info = await _log.DescribeTopicAsync(Topic);
        for (var i = 0; i < count; i++)
        {
            await _log.AppendAsync(Topic, i % info!.Partitions.Count, [new RecordToAppend(null, Encoding.UTF8.GetBytes($"m{i}"))]);
        }
    }
}
