using System.Collections.Concurrent;
using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

public sealed class DeliveryTests
{
    [Fact]
    public async Task Shared_ThreeConsumersAckingEverything_EachMessageDeliveredExactlyOnce()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 3);
        await h.SubscribeAsync(SubscriptionType.Shared);
        for (var p = 0; p < 3; p++)
        {
            await h.ProduceAsync(100, partition: p);
        }

        var seen = new ConcurrentBag<string>();
        using var done = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, 3).Select(i => Task.Run(async () =>
        {
            await using var c = await h.OpenAsync($"c{i}");
            try
            {
                while (true)
                {
                    var batch = await c.ReceiveAsync(7, EngineHarness.LongWait, done.Token);
                    foreach (var d in batch)
                    {
                        Assert.Equal(1, d.DeliveryAttempt);
                        seen.Add(d.MessageId);
                    }

                    var result = await h.AckAsync(batch);
                    Assert.Equal(batch.Count, result.Succeeded);
                    if (seen.Count >= 300)
                    {
                        await done.CancelAsync();
                    }
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
            }
        })).ToArray();
        await Task.WhenAll(consumers).WaitAsync(EngineHarness.HangGuard);

        Assert.Equal(300, seen.Count);
        Assert.Equal(300, seen.Distinct().Count());
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(0, info!.Backlog);
        Assert.All(info.Partitions, p => Assert.Equal(100, p.CommittedOffset));
    }

    [Fact]
    public async Task Receive_NoWaitRightAfterAttach_ReturnsWhatTheLogAlreadyHolds()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 2);
        await h.SubscribeAsync();
        await h.ProduceAsync(2, partition: 0);
        await h.ProduceAsync(1, partition: 1);

        await using var c = await h.OpenAsync("c");
        var got = new List<Delivery>(await c.ReceiveAsync(10, TimeSpan.Zero));
        got.AddRange(await c.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal(["0:0", "0:1", "1:0"], got.Select(d => d.MessageId).Order());
    }

    [Fact]
    public async Task TakeReady_LeasesWhatIsBuffered_WithoutWaiting_AndNothingOnceDisposed()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(5);
        var c = await h.OpenAsync("c");

        // The first receive fills the read-ahead; what it did not take is ready without another look at the log.
        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));
        Assert.Equal("0:0", first.MessageId);
        await EngineHarness.EventuallyAsync(() => Task.FromResult(c.TakeReady(1) is [var d] && d.MessageId == "0:1"));
        var rest = c.TakeReady(2);
        Assert.Equal(["0:2", "0:3"], rest.Select(d => d.MessageId));

        // Leased like received messages: acking them by lease applies.
        Assert.Equal(2, await c.AckAsync(rest, waitDurable: true));
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(2, info!.InFlight);

        // "0:4" is still ready, yet a disposed handle takes nothing; another consumer takes it, then nothing is left.
        await c.DisposeAsync();
        Assert.Empty(c.TakeReady(1));
        await using var other = await h.OpenAsync("other");
        Assert.Equal(["0:4"], other.TakeReady(10).Select(d => d.MessageId));
        Assert.Empty(other.TakeReady(10));
    }

    [Fact]
    public async Task Nack_WithoutDelay_RedeliversAtOnceWithAttempt2()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");

        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));
        var nack = await h.NackAsync([first], TimeSpan.Zero);
        var again = Assert.Single(await c.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal(1, nack.Succeeded);
        Assert.Equal(first.MessageId, again.MessageId);
        Assert.Equal(2, again.DeliveryAttempt);
        Assert.NotEqual(first.AckId, again.AckId);
    }

    [Fact]
    public async Task AckDeadline_Passed_RedeliversWithAttempt2AndOldIdIsExpiredNotApplied()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { AckDeadline = TimeSpan.FromSeconds(10) });
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");
        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));

        h.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(await c.ReceiveAsync(10, TimeSpan.Zero));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var expiredAck = await h.AckAsync([first]);
        var again = Assert.Single(await c.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal(0, expiredAck.Succeeded);
        Assert.Equal([first.AckId], expiredAck.Expired);
        Assert.Equal(2, again.DeliveryAttempt);
        Assert.Equal(0, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
        Assert.Equal(1, (await h.AckAsync([again])).Succeeded);
    }

    [Fact]
    public async Task Ack_DeadlinePassedButTimerLate_IsExpiredNotApplied()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { AckDeadline = TimeSpan.FromSeconds(10) });
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");
        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));

        h.Time.AdvanceWithoutFiring(TimeSpan.FromSeconds(10));
        var result = await h.AckAsync([first]);
        h.Time.Advance(TimeSpan.Zero);
        var again = Assert.Single(await c.ReceiveAsync(10, TimeSpan.Zero));

        Assert.Equal([first.AckId], result.Expired);
        Assert.Equal(2, again.DeliveryAttempt);
    }

    [Fact]
    public async Task Nack_WithDelay_RedeliversOnlyAfterTheDelay()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");
        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));

        await h.NackAsync([first], TimeSpan.FromSeconds(5));
        h.Time.Advance(TimeSpan.FromSeconds(4));
        var early = await c.ReceiveAsync(10, TimeSpan.Zero);
        var pending = c.ReceiveAsync(10, EngineHarness.LongWait).AsTask();
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var later = Assert.Single(await pending.WaitAsync(EngineHarness.HangGuard));

        Assert.Empty(early);
        Assert.Equal(first.MessageId, later.MessageId);
        Assert.Equal(2, later.DeliveryAttempt);
    }

    [Fact]
    public async Task Redeliveries_GoBeforeNewMessages_InOffsetOrder()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(3);
        await using var c = await h.OpenAsync("c");
        var first = await EngineHarness.ReceiveAtLeastAsync(c, 2);
        await h.ProduceAsync(2);

        await h.NackAsync([first[1]], TimeSpan.Zero);
        await h.NackAsync([first[0]], TimeSpan.Zero);
        var next = await EngineHarness.ReceiveAtLeastAsync(c, 3);

        Assert.Equal(["0:0", "0:1", "0:2"], next.Select(d => d.MessageId));
        Assert.Equal([2, 2, 1], next.Select(d => d.DeliveryAttempt));
    }

    [Fact]
    public async Task MaxDeliveries_NackedAtTheLimit_DeadLettersWithHeadersAndAcks()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { MaxDeliveries = 2 });
        await h.ProduceAsync(1, key: _ => "k1", headers: [new("trace", "abc")]);
        await using var c = await h.OpenAsync("c");

        var d1 = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));
        await h.NackAsync([d1], TimeSpan.Zero);
        var d2 = Assert.Single(await c.ReceiveAsync(10, TimeSpan.Zero));
        await h.NackAsync([d2], TimeSpan.Zero);

        var dlq = new Topics.TopicName("t", "ns", "orders-dlq");
        await EngineHarness.EventuallyAsync(async () => (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset == 1);
        var dead = Assert.Single(h.Log.Records(dlq, 0));
        var headers = dead.Headers.ToDictionary(x => x.Key, x => x.Value);
        Assert.Equal("k1", Encoding.UTF8.GetString(dead.Key!.Value.Span));
        Assert.Equal("m0", Encoding.UTF8.GetString(dead.Value!.Value.Span));
        Assert.Equal("abc", headers["trace"]);
        Assert.Equal("t/ns/orders", headers["sluice-dlq-source-topic"]);
        Assert.Equal("sub", headers["sluice-dlq-subscription"]);
        Assert.Equal("0", headers["sluice-dlq-partition"]);
        Assert.Equal("0", headers["sluice-dlq-offset"]);
        Assert.Equal("max-deliveries", headers["sluice-dlq-reason"]);
        Assert.Equal("2", headers["sluice-dlq-attempts"]);
        Assert.Empty(await c.ReceiveAsync(10, TimeSpan.Zero));
    }

    [Fact]
    public async Task MaxDeliveries_DeadlineExpiresAtTheLimit_DeadLettersToConfiguredTopic()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        var dlq = new Topics.TopicName("t", "other", "graveyard");
        await h.SubscribeAsync(configure: s => s with { MaxDeliveries = 1, DeadLetterTopic = dlq, AckDeadline = TimeSpan.FromSeconds(1) });
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");
        Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));

        h.Time.Advance(TimeSpan.FromSeconds(1));

        await EngineHarness.EventuallyAsync(async () => (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Backlog == 0);
        var dead = Assert.Single(h.Log.Records(dlq, 0));
        Assert.Contains(new KeyValuePair<string, string>("sluice-dlq-attempts", "1"), dead.Headers);
    }

    [Fact]
    public async Task MaxDeliveries_DeadLetterAppendFails_MessageRedeliveredNotLost()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { MaxDeliveries = 1 });
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");
        var first = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));
        h.Log.FailAppends = t => t.Name == "orders-dlq" ? new IOException("disk full") : null;

        await h.NackAsync([first], TimeSpan.Zero);
        var again = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));

        Assert.Equal(first.MessageId, again.MessageId);
        Assert.Equal(0, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
    }

    [Fact]
    public async Task DeadLetterAsync_OnRequest_AppendsWithGivenReasonAndAcks()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var c = await h.OpenAsync("c");
        var d = await EngineHarness.ReceiveAtLeastAsync(c, 2);

        var result = await h.Engine.DeadLetterAsync(EngineHarness.Topic, "sub", [d[0].AckId, "nonsense"], "webhook-4xx");

        Assert.Equal(1, result.Succeeded);
        Assert.Equal(["nonsense"], result.Unknown);
        var dead = Assert.Single(h.Log.Records(new Topics.TopicName("t", "ns", "orders-dlq"), 0));
        Assert.Contains(new KeyValuePair<string, string>("sluice-dlq-reason", "webhook-4xx"), dead.Headers);
        Assert.Equal(1, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
    }

    [Fact]
    public async Task Ack_MalformedNeverIssuedOrAlreadyAcked_ReportedUnknown()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var c = await h.OpenAsync("c");
        var d = Assert.Single(await c.ReceiveAsync(1, EngineHarness.LongWait));
        var parts = d.AckId.Split('.');
        var neverIssued = string.Join('.', parts[0], parts[1], parts[2], "1", parts[4]);
        var laterAttempt = string.Join('.', parts[0], parts[1], parts[2], parts[3], "2");

        var first = await h.Engine.AckAsync(EngineHarness.Topic, "sub", [d.AckId, "garbage", "", neverIssued, laterAttempt]);
        var second = await h.Engine.AckAsync(EngineHarness.Topic, "sub", [d.AckId]);

        Assert.Equal(1, first.Succeeded);
        Assert.Equal(["garbage", "", neverIssued, laterAttempt], first.Unknown);
        Assert.Empty(first.Expired);
        Assert.Equal(0, second.Succeeded);
        Assert.Equal([d.AckId], second.Unknown);
    }

    [Fact]
    public async Task Ack_OldIdAfterSubscriptionDeletedAndRecreated_IsUnknown()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(1);
        await using var old = await h.OpenAsync("c");
        var d = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(old, 1));

        Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));
        await h.SubscribeAsync();
        await using var c = await h.OpenAsync("c");
        var fresh = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));
        var result = await h.AckAsync([d]);

        Assert.True(old.Ended.IsCancellationRequested);
        Assert.Equal([d.AckId], result.Unknown);
        Assert.Equal(d.MessageId, fresh.MessageId);
        Assert.Equal(1, (await h.AckAsync([fresh])).Succeeded);
    }

    [Fact]
    public async Task OpenConsumer_TopicMissing_ThrowsTopicNotFound()
    {
        await using var h = new EngineHarness();

        await Assert.ThrowsAsync<TopicNotFoundException>(() => h.OpenAsync("c"));
        Assert.Empty(await h.Engine.ListAsync(EngineHarness.Topic));
    }

    [Fact]
    public async Task OpenConsumer_SubscriptionMissing_CreatesItAtLatest()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.ProduceAsync(3);

        await using var c = await h.OpenAsync("c");
        var before = await c.ReceiveAsync(10, TimeSpan.Zero);
        await h.ProduceAsync(1);
        var after = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(c, 1));

        Assert.Empty(before);
        Assert.Equal("0:3", after.MessageId);
        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(SubscriptionType.Shared, info!.Settings.Type);
    }

    [Fact]
    public async Task CreateOrUpdate_InvalidSettings_ThrowsAndCreatesNothing()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();

        await Assert.ThrowsAsync<InvalidSubscriptionSettingsException>(
            () => h.SubscribeAsync(configure: s => s with { AckDeadline = TimeSpan.FromMilliseconds(1) }));
        Assert.Null(await h.Engine.GetAsync(EngineHarness.Topic, "sub"));
    }

    [Fact]
    public async Task ReleaseInFlight_StreamClosed_RedeliversItsMessagesToOthersAtOnce()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var streaming = await h.OpenAsync("stream");
        await using var other = await h.OpenAsync("other");
        var held = await EngineHarness.ReceiveAtLeastAsync(streaming, 2);

        await streaming.ReleaseInFlightAsync();
        var taken = await EngineHarness.ReceiveAtLeastAsync(other, 2);

        Assert.Equal(held.Select(d => d.MessageId), taken.Select(d => d.MessageId));
        Assert.All(taken, d => Assert.Equal(2, d.DeliveryAttempt));
        Assert.Equal(held.Select(d => d.AckId), (await h.AckAsync(held)).Expired);
    }

    [Fact]
    public async Task Get_WithInFlightMessages_ReportsLagBacklogAndConsumers()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 2);
        await h.SubscribeAsync();
        await h.ProduceAsync(3, partition: 0);
        await h.ProduceAsync(2, partition: 1);
        await using var c = await h.OpenAsync("c");
        var d = await EngineHarness.ReceiveAtLeastAsync(c, 5);
        await h.AckAsync(d.Where(x => x.MessageId is "0:0" or "0:2"));

        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");

        Assert.Equal([(0, 1L, 3L, 2L), (1, 0L, 2L, 2L)], info!.Partitions.Select(p => (p.Partition, p.CommittedOffset, p.EndOffset, p.Lag)));
        Assert.Equal(4, info.Backlog);
        Assert.Equal(3, info.InFlight);
        var consumer = Assert.Single(info.Consumers);
        Assert.Equal(("c", true, 3), (consumer.ConsumerId, consumer.Active, consumer.InFlight));
    }

    [Fact]
    public async Task GetSettings_WithManyConsumers_ReturnsTheSettingsAndNullForAMissingSubscription()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Shared, configure: s => s with { AckDeadline = TimeSpan.FromSeconds(42) });
        var consumers = new List<ISubscriptionConsumer>();
        for (var i = 0; i < 100; i++)
        {
            consumers.Add(await h.OpenAsync($"c{i}"));
        }

        var settings = await h.Engine.GetSettingsAsync(EngineHarness.Topic, "sub");

        Assert.NotNull(settings);
        Assert.Equal(SubscriptionType.Shared, settings.Type);
        Assert.Equal(TimeSpan.FromSeconds(42), settings.AckDeadline);
        Assert.Equal(100, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Consumers.Count);
        Assert.Null(await h.Engine.GetSettingsAsync(EngineHarness.Topic, "missing"));
        foreach (var c in consumers)
        {
            await c.DisposeAsync();
        }
    }
}
