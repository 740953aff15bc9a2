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

/// <summary>What a replicator's status says while its runner is starting: the subscription is the truth of its lag.</summary>
public sealed class ReplicatorStatusTests : IAsyncDisposable
{
    private static readonly TopicName Topic = new("t", "ns", "status");
    private readonly MemoryLog _log = new(TimeProvider.System);
    private readonly GatedSinkType _sinks = new();
    private readonly SubscriptionService _engine;
    private readonly ReplicatorService _replicators;

    public ReplicatorStatusTests()
    {
        _engine = new SubscriptionService(_log, TimeProvider.System, Options.Create(new DeliveryOptions()), NullLoggerFactory.Instance);
        _replicators = new ReplicatorService(_engine, _log, new SinkCatalog([_sinks]), new EmptyServices(), Options.Create(new ReplicationOptions()), new LocalPartitionCoordinator(), TimeProvider.System, NullLoggerFactory.Instance);
    }

    [Fact]
    public async Task Lag_WhileTheRunnerHasNoWorkerYet_IsTheSubscriptionsLag_NotZero()
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 1 });
        for (var i = 0; i < 10; i++)
        {
            await _log.AppendAsync(Topic, 0, [new RecordToAppend(null, Encoding.UTF8.GetBytes($"m{i}"))]);
        }

        await _replicators.StartAsync();
        await _replicators.PutAsync(new ReplicatorDefinition
        {
            Name = "r",
            Source = ReplicatorSource.ForTopic(Topic),
            SinkType = "gated",
            SinkJson = """{"type":"gated","target":"{topic}"}""",
        });
        await EngineHarness.EventuallyAsync(async () => (await _replicators.GetStatusAsync("r"))!.Lag == 0 && _sinks.Written == 10);

        // Back to the start, and the runner's check of its target held: it runs, with no worker for the topic yet.
        await _replicators.SetStoppedAsync("r", stopped: true);
        Assert.True(await _replicators.SeekAsync("r", new ReplicatorSeek { Position = StartPosition.Earliest }));
        _sinks.Hold();
        await _replicators.SetStoppedAsync("r", stopped: false);
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_sinks.Checking));

        var starting = (await _replicators.GetStatusAsync("r"))!;
        Assert.Equal("running", starting.State);
        Assert.Equal(10, starting.Lag);
        Assert.Equal(10, Assert.Single(starting.Topics).Lag);

        _sinks.Release();
        await EngineHarness.EventuallyAsync(async () => (await _replicators.GetStatusAsync("r"))!.Lag == 0 && _sinks.Written == 20);
    }

    public async ValueTask DisposeAsync()
    {
        _sinks.Release();
        await _replicators.DisposeAsync();
        await _engine.DisposeAsync();
    }

    /// <summary>A sink whose target check can be held, so a runner can be caught between starting and its first worker.</summary>
    private sealed class GatedSinkType : ReplicationSinkType
    {
        private volatile TaskCompletionSource _gate = Open();
        private int _written;

        public override string Name => "gated";

        public override string TargetField => "target";

        public int Written => Volatile.Read(ref _written);

        public bool Checking { get; private set; }

        public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _gate.TrySetResult();

        public override object ReadSettings(SinkSettings settings) => this;

        public override async ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
        {
            Checking = true;
            await _gate.Task.WaitAsync(cancellationToken);
            return null;
        }

        public override IReplicationSink CreateSink(object settings, SinkContext context) => new Sink(this);

        private static TaskCompletionSource Open()
        {
            var open = new TaskCompletionSource();
            open.SetResult();
            return open;
        }

        private sealed class Sink(GatedSinkType type) : IReplicationSink
        {
            public ValueTask<SinkWriteResult> WriteAsync(SinkBatch batch, CancellationToken cancellationToken)
            {
                Interlocked.Add(ref type._written, batch.Records.Count);
                return ValueTask.FromResult(SinkWriteResult.Written);
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
