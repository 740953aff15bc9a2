using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>
/// Waiting receives on shared subscriptions are woken one per change, not all at once (the thundering herd that made
/// thousands of SSE connections on one subscription cost memory and latency), and no message or wake-up is stranded.
/// Wake-ups are observed through the engine's own per-subscription counts (what the metrics export).
/// </summary>
public sealed class WakeUpTests
{
    [Fact]
    public async Task Shared_FiftyWaitingReceivers_OneMessage_OneReceiverGetsItAndTheOthersKeepWaitingUnwoken()
    {
        var name = Unique("herd");
        await using var h = new EngineHarness();
        var meter = new WakeMeter(h, name);
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Shared, name);
        var consumers = new List<ISubscriptionConsumer>();
        for (var i = 0; i < 50; i++)
        {
            consumers.Add(await h.OpenAsync($"c{i}", name));
        }

        using var stop = new CancellationTokenSource();
        var receives = consumers.Select(c => c.ReceiveAsync(10, EngineHarness.LongWait, stop.Token).AsTask()).ToList();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 50));
        var wakeupsBefore = meter.Wakeups;

        await h.ProduceAsync(1);
        var first = await Task.WhenAny(receives).WaitAsync(EngineHarness.HangGuard);

        Assert.Equal(["0:0"], (await first).Select(d => d.MessageId));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 49));
        Assert.Equal(1, receives.Count(r => r.IsCompleted));

        // One wake for the one message (two at most: a receive that was still making its first look at the log can
        // take the message itself while the pump's signal wakes one other). Waking everyone would be 50.
        Assert.InRange(meter.Wakeups - wakeupsBefore, 1, 2);

        await stop.CancelAsync();
        foreach (var r in receives.Where(r => r != first))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => r.WaitAsync(EngineHarness.HangGuard));
        }

        Assert.Equal(0, meter.Waiting);
        foreach (var c in consumers)
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Shared_BurstArrivingInOneRead_EachWaitingReceiverOfOneGetsADifferentMessage()
    {
        var name = Unique("burst");
        await using var h = new EngineHarness();
        var meter = new WakeMeter(h, name);
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Shared, name);
        var consumers = new List<ISubscriptionConsumer>();
        for (var i = 0; i < 20; i++)
        {
            consumers.Add(await h.OpenAsync($"c{i}", name));
        }

        var receives = consumers.Select(c => c.ReceiveAsync(1, EngineHarness.LongWait).AsTask()).ToList();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 20));

        // One append, so the read-ahead signals once: each receive that takes one must wake the next.
        var records = Enumerable.Range(0, 20).Select(i => new RecordToAppend(null, Encoding.UTF8.GetBytes($"m{i}"), null)).ToList();
        await h.Log.AppendAsync(EngineHarness.Topic, 0, records);
        var batches = await Task.WhenAll(receives).WaitAsync(EngineHarness.HangGuard);

        Assert.All(batches, b => Assert.Single(b));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"0:{i}").Order(StringComparer.Ordinal), batches.Select(b => b[0].MessageId).Order(StringComparer.Ordinal));
        Assert.Equal(0, meter.Waiting);
        foreach (var c in consumers)
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Shared_ReceivesCancelledWhileWaiting_LeaveNoWaiterBehind_NextMessageGoesToTheLiveOne()
    {
        var name = Unique("cancel");
        await using var h = new EngineHarness();
        var meter = new WakeMeter(h, name);
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Shared, name);
        await using var live = await h.OpenAsync("live", name);
        var gone = new List<ISubscriptionConsumer>();
        using var cancel = new CancellationTokenSource();
        var cancelled = new List<Task>();
        for (var i = 0; i < 9; i++)
        {
            var c = await h.OpenAsync($"gone{i}", name);
            gone.Add(c);
            cancelled.Add(c.ReceiveAsync(10, EngineHarness.LongWait, cancel.Token).AsTask());
        }

        // The live receive waits behind the nine that will give up.
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 9));
        var receive = live.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 10));
        await cancel.CancelAsync();
        foreach (var t in cancelled)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.WaitAsync(EngineHarness.HangGuard));
        }

        Assert.Equal(1, meter.Waiting);
        await h.ProduceAsync(1);

        Assert.Equal(["0:0"], (await receive.WaitAsync(EngineHarness.HangGuard)).Select(d => d.MessageId));
        foreach (var c in gone)
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Failover_ManyWaitingReceivers_OnlyTheActiveConsumerGetsTheMessage()
    {
        var name = Unique("failover");
        await using var h = new EngineHarness();
        var meter = new WakeMeter(h, name);
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Failover, name);
        await using var active = await h.OpenAsync("active", name);
        var standbys = new List<ISubscriptionConsumer>();
        for (var i = 0; i < 10; i++)
        {
            standbys.Add(await h.OpenAsync($"standby{i}", name));
        }

        // The standbys wait first: a wake-one policy would hand the message's wake to one of them and strand it.
        using var stop = new CancellationTokenSource();
        var standbyReceives = standbys.Select(c => c.ReceiveAsync(10, EngineHarness.LongWait, stop.Token).AsTask()).ToList();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 10));
        var receive = active.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        await EngineHarness.EventuallyAsync(() => Task.FromResult(meter.Waiting == 11));

        await h.ProduceAsync(1);

        Assert.Equal(["0:0"], (await receive.WaitAsync(EngineHarness.HangGuard)).Select(d => d.MessageId));
        Assert.DoesNotContain(standbyReceives, r => r.IsCompletedSuccessfully);
        await stop.CancelAsync();
        foreach (var r in standbyReceives)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => r.WaitAsync(EngineHarness.HangGuard));
        }

        foreach (var c in standbys)
        {
            await c.DisposeAsync();
        }
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Reads one subscription's wake-up and waiting counts, as the metrics exporter does (CollectCounts).</summary>
    private sealed class WakeMeter(EngineHarness harness, string subscription)
    {
        public long Wakeups => Counts()?.Wakeups ?? 0;

        public long Waiting => Counts()?.WaitingReceivers ?? 0;

        private SubscriptionCounts? Counts()
        {
            var counts = new List<SubscriptionCounts>();
            harness.Engine.CollectCounts(counts);
            return counts.SingleOrDefault(c => c.Name == subscription);
        }
    }
}
