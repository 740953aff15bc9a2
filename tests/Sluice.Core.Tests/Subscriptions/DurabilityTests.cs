using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

public sealed class DurabilityTests
{
    [Fact]
    public async Task Restart_AfterOutOfOrderAcks_RedeliversExactlyTheUnackedOnes()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { AckDeadline = TimeSpan.FromMinutes(5), MaxDeliveries = 5 });
        await h.ProduceAsync(10);
        var c = await h.OpenAsync("c");
        var all = await EngineHarness.ReceiveAtLeastAsync(c, 10);
        await h.AckAsync(all.Where(d => d.Record.Offset is 0 or 1 or 2 or 5 or 7));

        // No flush, no dispose: as if the process died right after the acks were answered.
        var engine = h.Restart();
        await using var after = await h.OpenAsync("c");
        var again = await EngineHarness.ReceiveAtLeastAsync(after, 5);
        await h.ProduceAsync(1);
        var fresh = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(after, 1));

        Assert.Equal([3L, 4, 6, 8, 9], again.Select(d => d.Record.Offset));
        Assert.All(again, d => Assert.Equal(1, d.DeliveryAttempt));
        Assert.Equal(10, fresh.Record.Offset);
        var info = await engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(3, info!.Partitions[0].CommittedOffset);
        Assert.Equal(5, info.Settings.MaxDeliveries);
        Assert.Equal(TimeSpan.FromMinutes(5), info.Settings.AckDeadline);
        // Ids issued before the restart name leases that no longer exist.
        Assert.Equal([all[3].AckId], (await engine.AckAsync(EngineHarness.Topic, "sub", [all[3].AckId])).Unknown);
    }

    [Fact]
    public async Task Restart_AfterDelete_SubscriptionStaysDeleted()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(name: "kept");
        await h.SubscribeAsync(name: "gone");
        await h.Engine.DeleteAsync(EngineHarness.Topic, "gone");

        var engine = h.Restart();

        Assert.Equal(["kept"], await engine.ListAsync(EngineHarness.Topic));
    }

    [Fact]
    public async Task Restart_LatestSubscriptionCreatedBeforeMessages_KeepsItsPinnedStart()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.Engine.CreateOrUpdateAsync(EngineHarness.Topic, "sub", new SubscriptionSettings { Position = StartPosition.Latest });
        await h.ProduceAsync(2);

        h.Restart();
        await using var c = await h.OpenAsync("c");

        Assert.Equal(2, (await EngineHarness.ReceiveAtLeastAsync(c, 2)).Count);
    }

    [Fact]
    public async Task ConcurrentAcks_ShareCursorAppends()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(200);
        await using var c = await h.OpenAsync("c");
        var all = await EngineHarness.ReceiveAtLeastAsync(c, 200);
        var appendsBefore = h.Log.AppendCalls;

        // The first cursor append is held (a slow disk); every ack arriving meanwhile must wait for ONE next append.
        var disk = new TaskCompletionSource();
        var writing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Log.HoldAppends = topic =>
        {
            writing.TrySetResult();
            return topic.IsInternal ? disk.Task : null;
        };
        var first = h.Engine.AckAsync(EngineHarness.Topic, "sub", [all[0].AckId]).AsTask();
        await writing.Task.WaitAsync(EngineHarness.HangGuard);
        var rest = all.Skip(1).Select(d => h.Engine.AckAsync(EngineHarness.Topic, "sub", [d.AckId]).AsTask()).ToList();
        disk.SetResult();
        await Task.WhenAll(rest.Append(first));

        Assert.Equal(2, h.Log.AppendCalls - appendsBefore);
        Assert.Equal(200, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
    }

    [Fact]
    public async Task Ack_CursorAppendFails_AckFailsInsteadOfClaimingDurability()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(1);
        await using var c = await h.OpenAsync("c");
        var d = await EngineHarness.ReceiveAtLeastAsync(c, 1);
        h.Log.FailAppends = t => t.Name == "cursors" ? new IOException("disk full") : null;

        await Assert.ThrowsAsync<IOException>(() => h.AckAsync(d));
    }

    [Fact]
    public async Task ConcurrentAcks_MoreKeysThanOneBatch_AllCompleteAndSurviveRestart()
    {
        await using var h = new EngineHarness(new DeliveryOptions { CursorFlushBatchSize = 2 });
        await h.CreateTopicAsync(partitions: 5);
        await h.SubscribeAsync();
        for (var p = 0; p < 5; p++)
        {
            await h.ProduceAsync(2, partition: p);
        }

        await using var c = await h.OpenAsync("c");
        var all = await EngineHarness.ReceiveAtLeastAsync(c, 10);

        var results = await Task.WhenAll(all.Select(d => h.Engine.AckAsync(EngineHarness.Topic, "sub", [d.AckId]).AsTask()));
        var info = await h.Restart().GetAsync(EngineHarness.Topic, "sub");

        Assert.All(results, r => Assert.Equal(1, r.Succeeded));
        Assert.All(info!.Partitions, p => Assert.Equal(2, p.CommittedOffset));
    }

    [Theory]
    [InlineData("earliest", new long[] { 0, 1, 2, 3, 4, 5 })]
    [InlineData("offset", new long[] { 4, 5 })]
    [InlineData("time", new long[] { 3, 4, 5 })]
    [InlineData("latest", new long[] { 6 })]
    public async Task Seek_ToPosition_ConsumersContinueFromThere(string where, long[] expected)
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(3);
        h.Time.Advance(TimeSpan.FromMinutes(1));
        var middle = h.Time.GetUtcNow();
        await h.ProduceAsync(3);
        await using var c = await h.OpenAsync("c");
        var all = await EngineHarness.ReceiveAtLeastAsync(c, 6);
        await h.AckAsync(all.Take(5));
        var position = where switch
        {
            "earliest" => StartPosition.Earliest,
            "offset" => StartPosition.AtOffset(4),
            "time" => StartPosition.AtTime(middle),
            _ => StartPosition.Latest,
        };

        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", position);
        await h.Log.AppendAsync(EngineHarness.Topic, 0, [new RecordToAppend(null, new byte[] { 1 })]);
        var got = await EngineHarness.ReceiveAtLeastAsync(c, expected.Length + (where == "latest" ? 0 : 1));

        Assert.Equal(expected.Append(6).Distinct(), got.Select(d => d.Record.Offset));
        Assert.Equal([all[5].AckId], (await h.AckAsync([all[5]])).Unknown);
        Assert.Equal(got.Count, (await h.AckAsync(got)).Succeeded);
    }

    [Fact]
    public async Task Seek_WhileConsumerWaits_WakesItFromTheNewPosition()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        await using var c = await h.OpenAsync("c");
        await h.AckAsync(await EngineHarness.ReceiveAtLeastAsync(c, 2));
        var waiting = c.ReceiveAsync(10, EngineHarness.LongWait).AsTask();

        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.Earliest);
        var got = (await waiting.WaitAsync(EngineHarness.HangGuard)).ToList();
        got.AddRange(await EngineHarness.ReceiveAtLeastAsync(c, 2 - got.Count));

        Assert.Equal([0L, 1], got.Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task Delete_WhileConsumerWaits_EndsIt_WithConsumerEnded()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await using var c = await h.OpenAsync("c");
        var waiting = c.ReceiveAsync(10, EngineHarness.LongWait).AsTask();

        Assert.True(await h.Engine.DeleteAsync(EngineHarness.Topic, "sub"));

        var ended = await Assert.ThrowsAsync<ConsumerEndedException>(() => waiting.WaitAsync(EngineHarness.HangGuard));
        Assert.Equal(ConsumerEndReason.SubscriptionDeleted, ended.Reason);
        Assert.True(c.Ended.IsCancellationRequested);
        Assert.Null(await h.Engine.GetAsync(EngineHarness.Topic, "sub"));
        await Assert.ThrowsAsync<SubscriptionNotFoundException>(() => h.Engine.AckAsync(EngineHarness.Topic, "sub", ["x"]).AsTask());
    }

    [Fact]
    public async Task Seek_Persisted_SurvivesRestart()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(5);
        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.AtOffset(3, partition: 0));

        h.Restart();
        await using var c = await h.OpenAsync("c");

        Assert.Equal([3L, 4], (await EngineHarness.ReceiveAtLeastAsync(c, 2)).Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task Seek_PartitionThatDoesNotExist_Throws()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync(partitions: 2);
        await h.SubscribeAsync();

        var ex = await Assert.ThrowsAsync<PartitionNotFoundException>(() => h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.AtOffset(0, partition: 2)).AsTask());
        Assert.Equal(2, ex.PartitionCount);
    }
    [Fact]
    public async Task ConsumerAck_WaitingForDurability_SurvivesACrash()
    {
        await using var h = new EngineHarness();
        var (c, all) = await ReceiveFiveAsync(h);

        Assert.Equal(3, await c.AckAsync(all.Take(3).ToList(), waitDurable: true));

        // No flush, no dispose.
        h.Restart();
        await using var after = await h.OpenAsync("c");
        Assert.Equal([3L, 4], (await EngineHarness.ReceiveAtLeastAsync(after, 2)).Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task ConsumerAck_NotWaitedFor_IsWrittenWithinTheLinger()
    {
        await using var h = new EngineHarness(new DeliveryOptions { CursorLinger = TimeSpan.FromMilliseconds(50) });
        var (c, all) = await ReceiveFiveAsync(h);
        var cursorsBefore = await CursorRecordsAsync(h);

        Assert.Equal(3, await c.AckAsync(all.Take(3).ToList(), waitDurable: false));
        Assert.Equal(3, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.Partitions[0].CommittedOffset);
        await EngineHarness.EventuallyAsync(async () => await CursorRecordsAsync(h) > cursorsBefore);

        h.Restart();
        await using var after = await h.OpenAsync("c");
        Assert.Equal([3L, 4], (await EngineHarness.ReceiveAtLeastAsync(after, 2)).Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task ConsumerAck_NotWaitedFor_IsWrittenAgainAfterACursorWriteFailed()
    {
        await using var h = new EngineHarness(new DeliveryOptions { CursorLinger = TimeSpan.FromMilliseconds(50) });
        var (c, all) = await ReceiveFiveAsync(h);

        // The disk fails for a while: the lingering write fails, and nothing else acks this subscription afterwards.
        var failing = true;
        h.Log.FailAppends = topic => failing && topic == StateTopics.Cursors ? new IOException("disk full") : null;
        Assert.Equal(3, await c.AckAsync(all.Take(3).ToList(), waitDurable: false));
        var cursorsBefore = await CursorRecordsAsync(h);
        await Task.Delay(300);
        Assert.Equal(cursorsBefore, await CursorRecordsAsync(h));
        failing = false;
        await EngineHarness.EventuallyAsync(async () => await CursorRecordsAsync(h) > cursorsBefore);

        h.Restart();
        await using var after = await h.OpenAsync("c");
        Assert.Equal([3L, 4], (await EngineHarness.ReceiveAtLeastAsync(after, 2)).Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task ConsumerAck_NotWaitedFor_IsWrittenByAGracefulShutdown()
    {
        await using var h = new EngineHarness(new DeliveryOptions { CursorLinger = TimeSpan.FromMinutes(1) });
        var (c, all) = await ReceiveFiveAsync(h);
        Assert.Equal(4, await c.AckAsync(all.Take(4).ToList(), waitDurable: false));

        await h.Engine.DisposeAsync();
        h.Restart();
        await using var after = await h.OpenAsync("c");
        Assert.Equal([4L], (await EngineHarness.ReceiveAtLeastAsync(after, 1)).Select(d => d.Record.Offset));
    }

    [Fact]
    public async Task ConsumerAck_OfEndedLeasesOrAnotherConsumersDeliveries_IsNotApplied()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync();
        await h.ProduceAsync(2);
        var a = await h.OpenAsync("a");
        var b = await h.OpenAsync("b");
        var first = await EngineHarness.ReceiveAtLeastAsync(a, 2);
        Assert.Equal(2, first.Count);
        await h.NackAsync(first.Take(1), TimeSpan.Zero);

        // The nacked lease ended; the other one is a's, not b's.
        Assert.Equal(0, await a.AckAsync(first.Take(1).ToList(), waitDurable: true));
        Assert.Equal(0, await b.AckAsync(first.Skip(1).ToList(), waitDurable: true));
        Assert.Equal(1, await a.AckAsync(first.Skip(1).ToList(), waitDurable: true));

        // Left: only the nacked message, delivered again.
        var again = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(b, 1));
        Assert.Equal((first[0].Record.Offset, 2), (again.Record.Offset, again.DeliveryAttempt));
    }

    // An exclusive subscription with five messages, all received by consumer "c".
    private static async Task<(ISubscriptionConsumer Consumer, List<Delivery> Deliveries)> ReceiveFiveAsync(EngineHarness h)
    {
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.Exclusive);
        await h.ProduceAsync(5);
        var c = await h.OpenAsync("c");
        return (c, await EngineHarness.ReceiveAtLeastAsync(c, 5));
    }

    private static async Task<long> CursorRecordsAsync(EngineHarness h)
        => (await h.Log.DescribeTopicAsync(StateTopics.Cursors))?.Partitions[0].EndOffset ?? 0;
}
