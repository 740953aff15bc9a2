using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Delay;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Tests.Fakes;
using Sluice.Core.Tests.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Core.Tests.Delay;

/// <summary>The delay service over a <see cref="MemoryLog"/> and a <see cref="ManualTimeProvider"/>: time moves only when a test moves it.</summary>
public sealed class DelayServiceTests : IAsyncLifetime
{
    private static readonly TopicName Topic = new("t", "ns", "orders");

    private readonly ManualTimeProvider _time = new();
    private readonly MemoryLog _log;
    private DelayService _service = null!;

    public DelayServiceTests() => _log = new MemoryLog(_time);

    public async Task InitializeAsync()
    {
        await _log.CreateTopicAsync(Topic, new TopicSettings { Partitions = 2 });
        _service = NewService();
    }

    public async Task DisposeAsync() => await _service.StopAsync();

    [Fact]
    public async Task DelayedMessage_ReachesItsPartitionOnlyAtItsTime_WithKeyValueHeadersAndItsId()
    {
        var due = _time.GetUtcNow().AddSeconds(5);
        var result = await _service.AppendAsync(Topic, 1, [new DelayedRecord(new RecordToAppend(Bytes("k"), Bytes("v"), [new("h", "1"), new(HoldingRecords.ControlHeader, "client's own"), new(HoldingRecords.DelayIdHeader, "forged")]), due)]);
        await WaitIndexedAsync(1);

        _time.Advance(TimeSpan.FromMilliseconds(4999));
        await Task.Delay(300);
        Assert.Empty(_log.Records(Topic, 1));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.Records(Topic, 1).Count == 1));
        var fired = _log.Records(Topic, 1)[0];
        Assert.Equal("k", Encoding.UTF8.GetString(fired.Key!.Value.Span));
        Assert.Equal("v", Encoding.UTF8.GetString(fired.Value!.Value.Span));
        Assert.Equal([new("h", "1"), new(HoldingRecords.ControlHeader, "client's own"), new(HoldingRecords.DelayIdHeader, result.Ids[0])], fired.Headers);
        Assert.Empty(_log.Records(Topic, 0));
        Assert.Equal(0, (await _service.ListAsync(Topic, null, 10)).Count);
    }

    [Fact]
    public async Task EqualDueTimes_AreAppendedInTheOrderTheyWereProduced()
    {
        var due = _time.GetUtcNow().AddSeconds(1);
        var later = due.AddSeconds(1);
        await _service.AppendAsync(Topic, 0, [Delayed("c", later), Delayed("a1", due), Delayed("a2", due)]);
        await _service.AppendAsync(Topic, 0, [Delayed("a3", due), Delayed("b", due.AddMilliseconds(-1))]);
        await WaitIndexedAsync(5);

        _time.Advance(TimeSpan.FromSeconds(3));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.Records(Topic, 0).Count == 5));
        Assert.Equal(["b", "a1", "a2", "a3", "c"], _log.Records(Topic, 0).Select(r => Encoding.UTF8.GetString(r.Value!.Value.Span)));
    }

    [Fact]
    public async Task Cancel_BeforeItsTime_IsFinal_AndAfterItFired_IsRefused()
    {
        var now = _time.GetUtcNow();
        var result = await _service.AppendAsync(Topic, 0, [Delayed("cancelled", now.AddSeconds(2)), Delayed("fired", now.AddSeconds(1))]);
        await WaitIndexedAsync(2);

        Assert.Equal(CancelOutcome.Cancelled, await _service.CancelAsync(Topic, result.Ids[0]));
        Assert.Equal(CancelOutcome.NotCancellable, await _service.CancelAsync(Topic, result.Ids[0]));
        Assert.Equal(1, (await _service.ListAsync(Topic, null, 10)).Count);

        _time.Advance(TimeSpan.FromSeconds(5));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.Records(Topic, 0).Count == 1));
        Assert.Equal(CancelOutcome.NotCancellable, await _service.CancelAsync(Topic, result.Ids[1]));
        Assert.Equal("fired", Encoding.UTF8.GetString(_log.Records(Topic, 0)[0].Value!.Value.Span));

        // Unknown: another generation, a partition or offset that holds nothing.
        Assert.Equal(CancelOutcome.NotCancellable, await _service.CancelAsync(Topic, "d:0:0:2"));
        Assert.Equal(CancelOutcome.NotCancellable, await _service.CancelAsync(Topic, "d:1:0:1"));
        Assert.Equal(CancelOutcome.NotCancellable, await _service.CancelAsync(Topic, "d:0:99:1"));
        await Assert.ThrowsAsync<InvalidDelayException>(() => _service.CancelAsync(Topic, "0:1").AsTask());
    }

    [Fact]
    public async Task Restart_SkipsWhatTheWatermarkSaysFired_FiresTheRest_AndKeepsCancels()
    {
        // What a crashed owner left: holding records, and a watermark written after it read offsets 0-5.
        await _service.StopAsync();
        var holding = DelayTopics.HoldingName(Topic, 1);
        await _log.CreateTopicAsync(holding, DelayTopics.HoldingSettings(2));
        var t0 = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _log.AppendAsync(holding, 0,
        [
            Held("v0", t0 + 1000),  // below the boundary, read before the write: fired
            Held("v1", t0 + 5000),  // above the boundary: pending, but cancelled by offset 3
            Held("v2", t0 + 2000),  // fired
            HoldingRecords.Cancel(1),
            Held("v4", t0 + 3000),  // the boundary itself: pending
            Held("v5", t0 + 500),   // due before others, fired before the write
            Held("v6", t0 + 100),   // read after the write: pending, whatever its time
        ]);
        await _log.CreateTopicAsync(DelayTopics.State, DelayTopics.StateSettings);
        await _log.AppendAsync(DelayTopics.State, 0,
        [
            new RecordToAppend(DelayTopics.Key(DelayTopics.RegistryKey(Topic)), DelayTopics.EncodeRegistration(1, deleted: false)),
            new RecordToAppend(DelayTopics.Key(DelayTopics.WatermarkKey(holding, 0)), DelayTopics.EncodeWatermark(new DelayWatermark(new PendingEntry(t0 + 3000, 4), ReadTo: 6, ScanFrom: 0, Pending: 3))),
        ]);

        _time.Advance(TimeSpan.FromSeconds(10));
        _service = NewService();
        await _service.StartAsync();

        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.Records(Topic, 0).Count >= 2));
        await Task.Delay(300);
        Assert.Equal(["v6", "v4"], _log.Records(Topic, 0).Select(r => Encoding.UTF8.GetString(r.Value!.Value.Span)));

        // The cancel had no decision yet: the new owner wrote it.
        Assert.Contains(_log.Records(holding, 0), r => HoldingRecords.Read(r, out var cancel, out var cancelled) == HoldingRecords.Kind.Decision && cancel == 3 && cancelled == 1);
    }

    [Fact]
    public async Task FiredMessages_AreDeletedFromTheHoldingPartition_OnceTheWatermarkIsDurable()
    {
        var now = _time.GetUtcNow();
        await _service.AppendAsync(Topic, 0, [Delayed("a", now.AddSeconds(1)), Delayed("b", now.AddSeconds(1)), Delayed("c", now.AddHours(1))]);
        await WaitIndexedAsync(3);
        var holding = DelayTopics.HoldingName(Topic, 1);

        _time.Advance(TimeSpan.FromSeconds(2));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.Records(Topic, 0).Count == 2));

        // The watermark is written within moments: "c" (offset 2) is the oldest still pending.
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.Records(DelayTopics.State, 0).Any(r =>
            r.Value is { } v && DelayTopics.TryDecodeWatermark(v.Span, out var w) && w.ScanFrom == 2 && w.Pending == 1)));
        Assert.Empty(_log.DeletesBefore);

        // Trimming runs once a minute at most.
        _time.Advance(TimeSpan.FromSeconds(61));
        await EngineHarness.EventuallyAsync(() => Task.FromResult(_log.DeletesBefore.Count > 0));
        Assert.Equal((holding, 0, 2L), Assert.Single(_log.DeletesBefore));
    }

    [Fact]
    public async Task DelayBeyondOneYear_IsRefused_AndNothingIsHeld()
    {
        var tooLate = _time.GetUtcNow() + DelayLimits.MaxDelay + TimeSpan.FromMilliseconds(1);
        await Assert.ThrowsAsync<InvalidDelayException>(() => _service.AppendAsync(Topic, 0, [Delayed("ok", _time.GetUtcNow().AddDays(1)), Delayed("no", tooLate)]).AsTask());
        Assert.Null(await _log.DescribeTopicAsync(DelayTopics.HoldingName(Topic, 1)));
    }

    [Fact]
    public void HoldingNames_AreReadable_DistinctPerSourceAndGeneration_AndHashedWhenLong()
    {
        Assert.Equal("__sluice/delayed/t.ns.orders.g1", DelayTopics.HoldingName(Topic, 1).ToString());
        Assert.Equal("__sluice/delayed/a_.b.c.d__e.g2", DelayTopics.HoldingName(new TopicName("a.b", "c", "d_e"), 2).ToString());
        Assert.NotEqual(DelayTopics.HoldingName(new TopicName("a.b", "c", "d"), 1), DelayTopics.HoldingName(new TopicName("a", "b.c", "d"), 1));

        var longName = new TopicName("tenant", "namespace", new string('x', 200));
        var hashed = DelayTopics.HoldingName(longName, 1);
        Assert.StartsWith("h", hashed.Name, StringComparison.Ordinal);
        Assert.Equal(hashed.Name.Length - 3, hashed.Name.IndexOf('.', StringComparison.Ordinal));
        Assert.NotEqual(hashed, DelayTopics.HoldingName(new TopicName("tenant", "namespace", new string('y', 200)), 1));
    }

    [Fact]
    public void DelayIds_RoundTrip_AndMalformedOnesAreRefused()
    {
        Assert.True(DelayId.TryParse(new DelayId(3, 12345, 2).ToString(), out var id));
        Assert.Equal(new DelayId(3, 12345, 2), id);
        foreach (var bad in new[] { "", "3:12345", "d:3:12345", "d:3:12345:0", "d:-1:2:1", "d:1:2:1:4", "d:a:2:1", "x:1:2:1" })
        {
            Assert.False(DelayId.TryParse(bad, out _), bad);
        }
    }

    private DelayService NewService() => new(_log, _time, new LocalPartitionCoordinator(), NullLoggerFactory.Instance);

    private async Task WaitIndexedAsync(long count)
        => await EngineHarness.EventuallyAsync(async () => (await _service.ListAsync(Topic, null, 1)).Count == count);

    private static DelayedRecord Delayed(string value, DateTimeOffset due) => new(new RecordToAppend(null, Bytes(value)), due);

    private static RecordToAppend Held(string value, long dueMs) => HoldingRecords.Message(new RecordToAppend(null, Bytes(value)), dueMs);

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);
}
