using Sluice.Core.Filters;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>A filtered subscription: what it delivers, how the rest is acked, counted and persisted.</summary>
public sealed class FilterTests
{
    private static readonly MessageFilter Eu = MessageFilter.Parse("header.region = \"eu\"");

    // Every tenth message (offsets 0, 10, 20, ...) is from "eu", the rest from "us".
    private static async Task ProduceRegionsAsync(EngineHarness h, int count, int partition = 0)
    {
        for (var i = 0; i < count; i++)
        {
            await h.Log.AppendAsync(EngineHarness.Topic, partition, [new RecordToAppend(null, "m"u8.ToArray(), [new("region", i % 10 == 0 ? "eu" : "us")])]);
        }
    }

    private static async Task<long> DurableCommittedAsync(EngineHarness h, int partition = 0)
    {
        var cursors = await StateTopics.LoadAsync(h.Log, StateTopics.Cursors, CancellationToken.None);
        var value = cursors[StateTopics.CursorKey(EngineHarness.Topic, "sub", partition)]!.Value;
        Assert.True(PartitionCursor.TryDecode(value.Span, out _, out var cursor));
        return cursor.Committed;
    }

    [Fact]
    public async Task Filtered_DeliversOnlyMatches_AcksAndCountsTheRest_LagReachesZero()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { Filter = Eu });
        await ProduceRegionsAsync(h, 100);

        await using var c = await h.OpenAsync("c");
        var got = await EngineHarness.ReceiveAtLeastAsync(c, 10);
        Assert.Equal([0L, 10, 20, 30, 40, 50, 60, 70, 80, 90], got.Select(d => d.Record.Offset));
        Assert.All(got, d => Assert.Equal("eu", d.Record.Headers[0].Value));
        Assert.Empty(await c.ReceiveAsync(10, TimeSpan.Zero));

        var info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(90, info!.FilteredOut);
        Assert.Equal(10, info.InFlight);

        // Filtered messages are acked, but the cursor stays at the first unacked match: acks keep cursor order.
        Assert.Equal(0, info.Partitions[0].CommittedOffset);
        await h.AckAsync(got.Take(5));
        info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(50, info!.Partitions[0].CommittedOffset);

        await h.AckAsync(got.Skip(5));
        info = await h.Engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(100, info!.Partitions[0].CommittedOffset);
        Assert.Equal(0, info.Backlog);
        Assert.Equal(0, info.InFlight);
        Assert.Equal(90, info.FilteredOut);
    }

    [Fact]
    public async Task Filtered_NothingMatches_CursorIsWrittenWithoutAnyAck_AndARestartReadsNothingAgain()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { Filter = MessageFilter.Parse("header.region = \"asia\"") });
        await ProduceRegionsAsync(h, 50);

        var c = await h.OpenAsync("c");
        Assert.Empty(await c.ReceiveAsync(10, TimeSpan.Zero));
        await EngineHarness.EventuallyAsync(async () => (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.FilteredOut == 50);

        // Written by the cursor writer within its linger, with no ack to carry it.
        await EngineHarness.EventuallyAsync(async () => await DurableCommittedAsync(h) == 50);

        // As if the process died: the new engine starts past the filtered messages and counts nothing again.
        var engine = h.Restart();
        await using var after = await h.OpenAsync("c");
        await h.Log.AppendAsync(EngineHarness.Topic, 0, [new RecordToAppend(null, "m"u8.ToArray(), [new("region", "asia")])]);
        var fresh = Assert.Single(await EngineHarness.ReceiveAtLeastAsync(after, 1));
        Assert.Equal(50, fresh.Record.Offset);
        var info = await engine.GetAsync(EngineHarness.Topic, "sub");
        Assert.Equal(0, info!.FilteredOut);
        Assert.Equal("header.region = \"asia\"", info.Settings.Filter!.Text);
    }

    [Fact]
    public async Task Filter_SurvivesRestart_AndStillFilters()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { Filter = Eu });

        var engine = h.Restart();
        Assert.Equal(Eu, (await engine.GetAsync(EngineHarness.Topic, "sub"))!.Settings.Filter);
        await ProduceRegionsAsync(h, 30);
        await using var c = await h.OpenAsync("c");
        var got = await EngineHarness.ReceiveAtLeastAsync(c, 3);
        Assert.Equal([0L, 10, 20], got.Select(d => d.Record.Offset));
        Assert.Empty(await c.ReceiveAsync(10, TimeSpan.Zero));
    }

    [Fact]
    public async Task Filter_Change_IsRefused_TheSameFilterSpelledOtherwiseIsNot()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { Filter = Eu });

        var change = new SubscriptionSettings { Position = StartPosition.Earliest, Filter = MessageFilter.Parse("header.region = \"us\"") };
        var ex = await Assert.ThrowsAsync<SubscriptionFilterFixedException>(() => h.Engine.CreateOrUpdateAsync(EngineHarness.Topic, "sub", change).AsTask());
        Assert.Contains("fixed at creation", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<SubscriptionFilterFixedException>(
            () => h.Engine.CreateOrUpdateAsync(EngineHarness.Topic, "sub", change with { Filter = null }).AsTask());

        var same = change with { Filter = MessageFilter.Parse("header.Region='eu'"), AckDeadline = TimeSpan.FromMinutes(2) };
        var info = await h.Engine.CreateOrUpdateAsync(EngineHarness.Topic, "sub", same);
        Assert.Equal(TimeSpan.FromMinutes(2), info.Settings.AckDeadline);
        Assert.Equal(Eu, info.Settings.Filter);

        // A subscription created without a filter cannot get one later either.
        await h.SubscribeAsync(name: "plain");
        await Assert.ThrowsAsync<SubscriptionFilterFixedException>(
            () => h.Engine.CreateOrUpdateAsync(EngineHarness.Topic, "plain", new SubscriptionSettings { Filter = Eu }).AsTask());
    }

    [Fact]
    public async Task Filtered_KeyShared_FilteredKeysDoNotBlockOthers()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(SubscriptionType.KeyShared, configure: s => s with { Filter = MessageFilter.Parse("hasPrefix(key, \"keep-\")") });
        await h.ProduceAsync(40, key: i => i % 4 == 0 ? $"keep-{i % 8}" : $"drop-{i % 3}");

        // A key's next message waits for the ack of its previous one; filtered messages never hold a key back.
        await using var c = await h.OpenAsync("c");
        var got = new List<Delivery>();
        while (got.Count < 10)
        {
            var batch = await EngineHarness.ReceiveAtLeastAsync(c, 1);
            got.AddRange(batch);
            await h.AckAsync(batch);
        }

        Assert.Equal([0L, 4, 8, 12, 16, 20, 24, 28, 32, 36], got.Select(d => d.Record.Offset).Order());
        Assert.All(got, d => Assert.StartsWith("keep-", System.Text.Encoding.UTF8.GetString(d.Record.Key!.Value.Span), StringComparison.Ordinal));
        Assert.Equal(30, (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.FilteredOut);
    }

    [Fact]
    public async Task Filtered_SeekBack_ReadsAndCountsAgain()
    {
        await using var h = new EngineHarness();
        await h.CreateTopicAsync();
        await h.SubscribeAsync(configure: s => s with { Filter = Eu });
        await ProduceRegionsAsync(h, 20);
        await using var c = await h.OpenAsync("c");
        await h.AckAsync(await EngineHarness.ReceiveAtLeastAsync(c, 2));

        await h.Engine.SeekAsync(EngineHarness.Topic, "sub", StartPosition.Earliest);
        var again = await EngineHarness.ReceiveAtLeastAsync(c, 2);

        Assert.Equal([0L, 10], again.Select(d => d.Record.Offset));
        await EngineHarness.EventuallyAsync(async () => (await h.Engine.GetAsync(EngineHarness.Topic, "sub"))!.FilteredOut == 36);
    }
}
