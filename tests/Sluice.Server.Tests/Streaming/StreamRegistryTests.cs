using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Core.Subscriptions;
using Sluice.Core.Tests.Fakes;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Problems;
using Sluice.Server.Streaming;

namespace Sluice.Server.Tests.Streaming;

public sealed class StreamRegistryTests
{
    private static readonly TopicName Topic = new("t", "n", "x");

    [Fact]
    public async Task Limits_RefuseWithStableProblemTypes_AndFreeOnDispose()
    {
        var registry = NewRegistry(maxStreams: 3, perSubscription: 2);
        var a = await registry.EnterAsync(Topic, "s", "c1", CancellationToken.None);
        var b = await registry.EnterAsync(Topic, "s", "c2", CancellationToken.None);
        var perSubscription = await Assert.ThrowsAsync<ProblemException>(() => registry.EnterAsync(Topic, "s", "c3", CancellationToken.None).AsTask());
        Assert.Equal("urn:sluice:problem:subscription-stream-limit", perSubscription.Kind.Type);
        Assert.Equal(429, perSubscription.Kind.Status);

        var c = await registry.EnterAsync(Topic, null, null, CancellationToken.None);
        var total = await Assert.ThrowsAsync<ProblemException>(() => registry.EnterAsync(Topic, "other", "c4", CancellationToken.None).AsTask());
        Assert.Equal("urn:sluice:problem:server-stream-limit", total.Kind.Type);
        Assert.Equal(503, total.Kind.Status);

        a.Dispose();
        using var d = await registry.EnterAsync(Topic, "s", "c5", CancellationToken.None);
        Assert.Equal(3, registry.Total);
        b.Dispose();
        c.Dispose();
    }

    [Fact]
    public async Task SameConsumer_TakesOverItsPreviousStream()
    {
        var registry = NewRegistry(maxStreams: 10, perSubscription: 1);
        var first = await registry.EnterAsync(Topic, "s", "c1", CancellationToken.None);
        using var _ = first.Ending.Register(first.Dispose);
        using var second = await registry.EnterAsync(Topic, "s", "c1", CancellationToken.None);
        Assert.True(first.Ending.IsCancellationRequested || first.Completion.IsCompleted);
        Assert.Equal(1, registry.Total);
    }

    [Fact]
    public async Task EndAlsoOn_AbortOrStopEndsTheStream_AndAnEndedLeaseIsLeftAloneByLaterStops()
    {
        var registry = NewRegistry(maxStreams: 10, perSubscription: 10);
        using var stopping = new CancellationTokenSource();
        using var abortedA = new CancellationTokenSource();
        using var abortedB = new CancellationTokenSource();
        using var a = await registry.EnterAsync(Topic, "s", "a", CancellationToken.None);
        using var b = await registry.EnterAsync(Topic, "s", "b", CancellationToken.None);
        a.EndAlsoOn(abortedA.Token, stopping.Token);
        b.EndAlsoOn(abortedB.Token, stopping.Token);
        var tokenB = b.Ending;

        await abortedA.CancelAsync();
        Assert.True(a.IsEnding);
        Assert.True(a.Ending.IsCancellationRequested); // made after the end: already cancelled
        Assert.False(b.IsEnding);
        Assert.False(tokenB.IsCancellationRequested);

        using var c = await registry.EnterAsync(Topic, "s", "c", CancellationToken.None);
        c.EndAlsoOn(CancellationToken.None, stopping.Token);
        c.Dispose();
        await stopping.CancelAsync();
        Assert.True(b.IsEnding);
        Assert.True(tokenB.IsCancellationRequested); // made before the end: cancelled by it
        Assert.False(c.IsEnding);
    }

    [Fact]
    public async Task KeepAlive_InterruptsOnlyStreamsIdleForAnInterval_AndAnEndInterruptsAtOnce()
    {
        var time = new ManualTimeProvider();
        using var registry = NewRegistry(maxStreams: 10, perSubscription: 10, time, keepAliveMs: 1000);
        using var idle = await registry.EnterAsync(Topic, "s", "a", CancellationToken.None);
        using var busy = await registry.EnterAsync(Topic, "s", "b", CancellationToken.None);
        var idleConsumer = new CountingConsumer();
        var busyConsumer = new CountingConsumer();
        idle.KeepAlive(idleConsumer);
        busy.KeepAlive(busyConsumer);

        // Ticks every 250 ms; nobody has been idle for a whole second yet, and the busy stream writes at 750 ms.
        time.Advance(TimeSpan.FromMilliseconds(750));
        busy.Active();
        Assert.Equal(0, idleConsumer.Interrupts);

        time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(1, idleConsumer.Interrupts);
        Assert.Equal(0, busyConsumer.Interrupts);

        // Interrupted at 1,000 ms counts as active then: not again at the next tick, again an interval later.
        time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(1, idleConsumer.Interrupts);
        Assert.Equal(0, busyConsumer.Interrupts);
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(1, busyConsumer.Interrupts);
        time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(2, idleConsumer.Interrupts);

        // An end interrupts at once, not at the next tick; a stream that left is not ticked any more.
        idle.TakeOver();
        Assert.True(idle.IsEnding);
        Assert.Equal(3, idleConsumer.Interrupts);
        busy.Dispose();
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, busyConsumer.Interrupts);
    }

    [Fact]
    public async Task KeepAlive_OnAStreamAlreadyEnded_InterruptsItsConsumer()
    {
        using var registry = NewRegistry(maxStreams: 10, perSubscription: 10);
        using var lease = await registry.EnterAsync(Topic, "s", "a", CancellationToken.None);
        lease.TakeOver();
        var consumer = new CountingConsumer();
        lease.KeepAlive(consumer);
        Assert.Equal(1, consumer.Interrupts);
    }

    [Fact]
    public void ResumeRecord_IsTakenOnce()
    {
        var registry = NewRegistry(maxStreams: 10, perSubscription: 10);
        registry.SaveResume(Topic, "s", "c1", ["a", "b"], TimeSpan.FromMinutes(1));
        Assert.Equal(["a", "b"], registry.TakeResume(Topic, "s", "c1"));
        Assert.Null(registry.TakeResume(Topic, "s", "c1"));
    }

    private static StreamRegistry NewRegistry(int maxStreams, int perSubscription, TimeProvider? time = null, int keepAliveMs = 15_000)
    {
        var options = Options.Create(new ServerOptions { MaxStreams = maxStreams, MaxStreamsPerSubscription = perSubscription, SseKeepAliveMs = keepAliveMs });
        return new StreamRegistry(options, time ?? TimeProvider.System, new StreamingMetrics(new MeterFactory()), NullLogger<StreamRegistry>.Instance);
    }

    /// <summary>A consumer handle that only counts its interrupts.</summary>
    private sealed class CountingConsumer : ISubscriptionConsumer
    {
        private int _interrupts;

        public int Interrupts => Volatile.Read(ref _interrupts);

        public string ConsumerId => "counting";

        public CancellationToken Ended => CancellationToken.None;

        public void Interrupt() => Interlocked.Increment(ref _interrupts);

        public ValueTask<IReadOnlyList<Delivery>> ReceiveAsync(int max, TimeSpan wait, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public IReadOnlyList<Delivery> TakeReady(int max) => throw new NotSupportedException();

        public IReadOnlyList<Delivery> Poll(int max, out ValueTask? wait, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask ReleaseInFlightAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public void HoldNewMessages() => throw new NotSupportedException();

        public ValueTask ReturnAsync(IReadOnlyList<Delivery> deliveries, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<int> AckAsync(IReadOnlyList<Delivery> deliveries, bool waitDurable, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class MeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
