using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Replication;
using Sluice.Core.Subscriptions;
using Sluice.Core.Tests.Fakes;
using Sluice.Core.Tests.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Replication;

/// <summary>Two gateway instances (engine + replicator service each) over one log: a replicator made on one runs on both, each record written once.</summary>
public sealed class ReplicatorFleetTests : IAsyncDisposable
{
    private static readonly TopicName Topic = new("t", "ns", "orders");
    private readonly MemoryLog _log = new(TimeProvider.System);
    private readonly GroupCoordinator _group;
    private readonly ConcurrentQueue<(string Instance, long Offset, int Partition)> _written = new();
    private readonly SubscriptionService _engineA;
    private readonly SubscriptionService _engineB;
    private readonly ReplicatorService _a;
    private readonly ReplicatorService _b;

    public ReplicatorFleetTests()
    {
        _group = new GroupCoordinator(_log);
        (_engineA, _a) = NewInstance("a");
        (_engineB, _b) = NewInstance("b");
    }

    [Fact]
    public async Task ReplicatorMadeOnOne_RunsOnBoth_SplittingPartitions_EachRecordWrittenOnce()
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        await _a.StartAsync();
        await _b.StartAsync();
        await _a.PutAsync(Replicator("r1"));
        await _b.SyncAsync();
        Assert.NotNull(_b.Get("r1"));

        // Each instance's worker creates the replicator's subscription when it starts; when both do so at once, each
        // makes its own generation, the last record of the state topic decides, and the instance that made the other
        // moves to it (a rebalance: replication is at-least-once, so records already taken may be written again).
        // Records go in once both instances sit in the group of that last generation alone: none is written twice.
        await EngineHarness.EventuallyAsync(() => SettledAsync("replicator-r1"));
        for (var i = 0; i < 40; i++)
        {
            await _log.AppendAsync(Topic, i % 2, [new RecordToAppend(Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes($"m{i}"))]);
        }

        await EngineHarness.EventuallyAsync(() => Task.FromResult(_written.Select(w => (w.Partition, w.Offset)).Distinct().Count() >= 40));
        Assert.Equal(40, _written.Count);
        Assert.Equal(["a", "b"], _written.Select(w => w.Instance).Distinct().Order());
        foreach (var partition in _written.GroupBy(w => w.Partition))
        {
            Assert.Single(partition.Select(w => w.Instance).Distinct());
            Assert.Equal(partition.Select(w => w.Offset).Order(), partition.Select(w => w.Offset));
        }
    }

    [Fact]
    public async Task StopAndDeleteOnOne_ReachTheOther()
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        await _a.StartAsync();
        await _b.StartAsync();
        await _a.PutAsync(Replicator("r2"));

        await _b.SetStoppedAsync("r2", stopped: true);
        await _a.SyncAsync();
        Assert.True(_a.Get("r2")!.Stopped);

        Assert.True(await _b.DeleteAsync("r2"));
        await _a.SyncAsync();
        Assert.Null(_a.Get("r2"));
        Assert.Null(await _engineB.GetAsync(Topic, "replicator-r2"));
    }

    public async ValueTask DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _engineA.DisposeAsync();
        await _engineB.DisposeAsync();
    }

    // True when the subscription's last generation (its last record in the state topic) has both instances as members,
    // one partition each, and no instance is left in a group of an earlier generation.
    private async Task<bool> SettledAsync(string subscription)
    {
        // The state topic is made with the first subscription.
        if (await _log.DescribeTopicAsync(StateTopics.Subscriptions) is null)
        {
            return false;
        }

        var read = await _log.ReadAsync(StateTopics.Subscriptions, 0, 0, 10_000, 1 << 20);
        var key = StateTopics.SubscriptionKey(Topic, subscription);
        var last = read.Records.LastOrDefault(r => r.Key is { } k && Encoding.UTF8.GetString(k.Span) == key);
        if (last?.Value is not { } value || !StateTopics.TryDecodeSubscription(value.Span, out _, out var generation))
        {
            return false;
        }

        var members = await _group.MembersAsync(Topic, subscription);
        return members.All(m => m.Generation == generation)
            && members.Select(m => m.Instance).Order().SequenceEqual(["a", "b"])
            && members.All(m => m.Owned.Length == 1);
    }

    private static ReplicatorDefinition Replicator(string name) => new()
    {
        Name = name,
        Source = ReplicatorSource.ForTopic(Topic),
        SinkType = "recording",
        SinkJson = """{"type":"recording","target":"{topic}"}""",
    };

    private (SubscriptionService Engine, ReplicatorService Replicators) NewInstance(string name)
    {
        var coordinator = _group.For(name);
        var engine = new SubscriptionService(_log, TimeProvider.System, Options.Create(new DeliveryOptions()), NullLoggerFactory.Instance, coordinator);
        var catalog = new SinkCatalog([new RecordingSinkType(name, _written)]);
        var replicators = new ReplicatorService(engine, _log, catalog, new EmptyServices(), Options.Create(new ReplicationOptions()), coordinator, TimeProvider.System, NullLoggerFactory.Instance);
        return (engine, replicators);
    }

    /// <summary>Remembers which instance wrote which record: the engine's part is under test here, not a target's.</summary>
    private sealed class RecordingSinkType(string instance, ConcurrentQueue<(string, long, int)> written) : ReplicationSinkType
    {
        public override string Name => "recording";

        public override string TargetField => "target";

        public override object ReadSettings(SinkSettings settings) => instance;

        public override IReplicationSink CreateSink(object settings, SinkContext context) => new Sink(instance, written);

        private sealed class Sink(string instance, ConcurrentQueue<(string, long, int)> written) : IReplicationSink
        {
            public ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
            {
                foreach (var r in batch.Records)
                {
                    written.Enqueue((instance, r.Offset, r.Partition));
                }

                return ValueTask.FromResult(SinkWriteResult.Written);
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
