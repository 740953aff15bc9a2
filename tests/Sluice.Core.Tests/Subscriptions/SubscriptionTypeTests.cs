using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

public sealed class SubscriptionTypeTests
{
    [Fact]
    public async Task Exclusive_SecondConsumer_RefusedUntilFirstSessionExpires()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Exclusive);
        var first = await h.OpenAsync("first");
        await using (var again = await h.OpenAsync("first"))
        {
            // The same id rejoins its own registration.
            Assert.Equal("first", again.ConsumerId);
        }

        await Assert.ThrowsAsync<SubscriptionBusyException>(() => h.OpenAsync("second"));
        await first.DisposeAsync();
        h.Time.Advance(TimeSpan.FromSeconds(29));
        await Assert.ThrowsAsync<SubscriptionBusyException>(() => h.OpenAsync("second"));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await using var second = await h.OpenAsync("second");

        Assert.Equal("second", second.ConsumerId);
    }

    [Fact]
    public async Task Session_PullConsumerGone_ItsUnackedRedeliveredAtExpiryBeforeTheDeadline()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { AckDeadline = TimeSpan.FromMinutes(10) });
        await h.ProduceAsync(1);
        await using (var gone = await h.OpenAsync("gone"))
        {
            Assert.Single(await EngineHarness.ReceiveAtLeastAsync(gone, 1));
        }

        await using var other = await h.OpenAsync("other");
        var pending = other.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        h.Time.Advance(TimeSpan.FromSeconds(30));
        var got = Assert.Single(await pending.WaitAsync(EngineHarness.HangGuard));

        Assert.Equal(2, got.DeliveryAttempt);
        Assert.Equal(["other"], (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Consumers.Select(c => c.ConsumerId));
    }

    [Fact]
    public async Task Session_RepeatedPullsWithOneId_KeepTheConsumerRegisteredUntilIdle()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync();

        for (var i = 0; i < 4; i++)
        {
            // One pull request: open, receive, dispose; the next comes 20 s later.
            var pull = await h.OpenAsync("client");
            Assert.Empty(await pull.ReceiveAsync(10, TimeSpan.Zero));
            await pull.DisposeAsync();
            h.Time.Advance(TimeSpan.FromSeconds(20));
        }

        var during = (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Consumers;
        h.Time.Advance(TimeSpan.FromSeconds(10));
        var after = (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Consumers;

        Assert.Equal("client", Assert.Single(during).ConsumerId);
        Assert.Empty(after);
    }

    [Fact]
    public async Task Failover_StandbyGetsNothingWhileActiveLives_ThenTakesOverWithItsUnacked()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Failover);
        await h.ProduceAsync(3);
        var active = await h.OpenAsync("a");
        await using var standby = await h.OpenAsync("b");
        var held = Assert.Single(await active.ReceiveAsync(1, EngineHarness.LongWait));

        var standbyWait = standby.ReceiveAsync(10, TimeSpan.FromSeconds(5)).AsTask();
        h.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(await standbyWait.WaitAsync(EngineHarness.HangGuard));

        // The active pull consumer went away; its session ends 30 s after its last request.
        await active.DisposeAsync();
        var takeover = standby.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        h.Time.Advance(TimeSpan.FromSeconds(30));
        var got = (await takeover.WaitAsync(EngineHarness.HangGuard)).ToList();
        got.AddRange(await EngineHarness.ReceiveAtLeastAsync(standby, 3 - got.Count));

        Assert.Equal(["0:0", "0:1", "0:2"], got.Select(d => d.MessageId));
        Assert.Equal(2, got[0].DeliveryAttempt);
        Assert.Equal([held.AckId], (await h.AckAsync([held])).Expired);
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(("b", true), (Assert.Single(info!.Consumers).ConsumerId, info.Consumers[0].Active));
    }

    [Fact]
    public async Task KeyShared_ConcurrentConsumersWithRandomAcksAndNacks_EachKeyDeliveredInOrderOneAtATime()
    {
        const int messages = 300;
        const int keys = 8;
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.KeyShared);
        await h.ProduceAsync(messages, key: i => $"k{i % keys}");

        var gate = new Lock();
        var acked = new HashSet<long>();
        var inFlightByKey = new Dictionary<string, long>();
        var deliveriesByConsumer = new Dictionary<string, HashSet<string>>();
        var violations = new List<string>();
        using var done = new CancellationTokenSource();

        // Each consumer acks most messages at once, nacks some, and holds some across its next receive, so a key's
        // next message is asked for while an earlier one is still in flight.
        async Task RunAsync(ISubscriptionConsumer c, int seed)
        {
            var id = c.ConsumerId;
            var random = new Random(seed);
            var held = new List<Delivery>();
            try
            {
                while (true)
                {
                    var batch = await c.ReceiveAsync(5, held.Count > 0 ? TimeSpan.Zero : EngineHarness.LongWait, done.Token);
                    var toAck = new List<Delivery>(held);
                    var toNack = new List<Delivery>();
                    held.Clear();
                    lock (gate)
                    {
                        foreach (var d in batch)
                        {
                            var key = KeyOf(d);
                            var expected = Enumerable.Range(0, messages).Select(i => (long)i).First(o => o % keys == int.Parse(key[1..]) && !acked.Contains(o));
                            if (d.Record.Offset != expected)
                            {
                                violations.Add($"{id} got {key}@{d.Record.Offset}, expected {expected}");
                            }

                            if (!inFlightByKey.TryAdd(key, d.Record.Offset))
                            {
                                violations.Add($"{id} got {key}@{d.Record.Offset} while @{inFlightByKey[key]} in flight");
                            }

                            deliveriesByConsumer.TryAdd(id, []);
                            deliveriesByConsumer[id].Add(key);
                            (random.Next(4) switch { 0 => toNack, 1 => held, _ => toAck }).Add(d);
                        }

                        // Released in the test's books before the engine hears of it, so the engine may only be stricter.
                        foreach (var d in toAck.Concat(toNack))
                        {
                            inFlightByKey.Remove(KeyOf(d));
                        }

                        foreach (var d in toAck)
                        {
                            acked.Add(d.Record.Offset);
                        }
                    }

                    await h.NackAsync(toNack, TimeSpan.Zero);
                    await h.AckAsync(toAck);
                    lock (gate)
                    {
                        if (acked.Count == messages)
                        {
                            done.Cancel();
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
            }
        }

        // All registered before the first receive, so key ownership never changes during the run.
        await using var c1 = await h.OpenAsync("c1");
        await using var c2 = await h.OpenAsync("c2");
        await using var c3 = await h.OpenAsync("c3");
        await Task.WhenAll(Task.Run(() => RunAsync(c1, 1)), Task.Run(() => RunAsync(c2, 2)), Task.Run(() => RunAsync(c3, 3))).WaitAsync(EngineHarness.HangGuard);

        Assert.Empty(violations);
        Assert.Equal(messages, acked.Count);
        // Each key stayed on one consumer (none joined or left during the run).
        var owners = deliveriesByConsumer.SelectMany(kv => kv.Value.Select(k => (Key: k, Consumer: kv.Key))).GroupBy(x => x.Key);
        Assert.All(owners, g => Assert.Single(g));
    }

    [Fact]
    public async Task KeyShared_OwnerSessionExpires_NextOwnerGetsTheKeyFromItsFirstUnackedMessage()
    {
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.KeyShared);
        await h.ProduceAsync(3, key: _ => "k");
        var owner = await h.OpenAsync("owner");
        var held = Assert.Single(await owner.ReceiveAsync(10, EngineHarness.LongWait));
        await owner.DisposeAsync();
        await using var next = await h.OpenAsync("next");

        var beforeExpiry = await next.ReceiveAsync(10, TimeSpan.Zero);
        h.Time.Advance(TimeSpan.FromSeconds(30));
        var order = new List<Delivery>();
        for (var i = 0; i < 3; i++)
        {
            var d = Assert.Single(await next.ReceiveAsync(10, EngineHarness.LongWait).AsTask().WaitAsync(EngineHarness.HangGuard));
            order.Add(d);
            await h.AckAsync([d]);
        }

        Assert.Equal("0:0", held.MessageId);
        Assert.Empty(beforeExpiry);
        Assert.Equal(["0:0", "0:1", "0:2"], order.Select(d => d.MessageId));
        Assert.Equal(2, order[0].DeliveryAttempt);
    }

    private static string KeyOf(Delivery d) => Encoding.UTF8.GetString(d.Record.Key!.Value.Span);

    [Fact]
    public async Task KeyShared_KeyWithMessageInFlight_WaitsWithoutBlockingOtherKeys()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.KeyShared);
        await h.ProduceAsync(4, key: i => i < 3 ? "a" : "b");
        await using var c = await h.OpenAsync("c");

        var first = await EngineHarness.ReceiveAtLeastAsync(c, 2);
        var nothing = await c.ReceiveAsync(10, TimeSpan.Zero);
        await h.AckAsync([first[0]]);
        var next = Assert.Single(await c.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal(["0:0", "0:3"], first.Select(d => d.MessageId));
        Assert.Empty(nothing);
        Assert.Equal("0:1", next.MessageId);
    }

    [Fact]
    public async Task SharedMadeKeyShared_WhatItHeldFromBefore_StillHoldsItsKeysMessagesBack()
    {
        // Shared subscriptions do not name keys; one made key_shared must name the keys of what it already holds.
        await using var h = new EngineHarness(new DeliveryOptions { ConsumerSessionTimeout = TimeSpan.FromSeconds(30) });
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Shared);
        await h.ProduceAsync(1, key: _ => "a");
        var before = await h.OpenAsync("before");
        var taken = Assert.Single(await before.ReceiveAsync(1, EngineHarness.LongWait));

        // The rest arrives while the handle waits: woken, the read-ahead holds at least the next one, untaken.
        var wait = await EngineHarness.ParkedAsync(h, before, 1);
        await h.Log.AppendAsync(EngineHarness.Topic, 0, [.. new[] { "a", "a", "b" }.Select(k => new RecordToAppend(Encoding.UTF8.GetBytes(k), Encoding.UTF8.GetBytes(k)))]);
        await wait.AsTask().WaitAsync(EngineHarness.HangGuard);
        await before.DisposeAsync();
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await EngineHarness.EventuallyAsync(async () => (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Consumers.Count == 0);

        await h.SubscribeAsync(SubscriptionType.KeyShared);
        await using var c = await h.OpenAsync("c");
        var first = await EngineHarness.ReceiveAtLeastAsync(c, 2);
        var nothing = await c.ReceiveAsync(10, TimeSpan.Zero);
        await h.AckAsync([first.Single(d => d.MessageId == "0:0")]);
        var next = Assert.Single(await c.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal("0:0", taken.MessageId);
        Assert.Equal(["0:0", "0:3"], first.Select(d => d.MessageId).Order());
        Assert.Equal(2, first.Single(d => d.MessageId == "0:0").DeliveryAttempt);
        Assert.Empty(nothing);
        Assert.Equal("0:1", next.MessageId);
    }
}
