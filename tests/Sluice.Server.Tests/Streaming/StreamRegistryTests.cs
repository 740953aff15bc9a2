using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
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
        var tokenA = a.EndAlsoOn(abortedA.Token, stopping.Token);
        var tokenB = b.EndAlsoOn(abortedB.Token, stopping.Token);

        await abortedA.CancelAsync();
        Assert.True(tokenA.IsCancellationRequested);
        Assert.False(tokenB.IsCancellationRequested);

        using var c = await registry.EnterAsync(Topic, "s", "c", CancellationToken.None);
        var tokenC = c.EndAlsoOn(CancellationToken.None, stopping.Token);
        c.Dispose();
        await stopping.CancelAsync();
        Assert.True(tokenB.IsCancellationRequested);
        Assert.False(tokenC.IsCancellationRequested);
    }

    [Fact]
    public void ResumeRecord_IsTakenOnce()
    {
        var registry = NewRegistry(maxStreams: 10, perSubscription: 10);
        registry.SaveResume(Topic, "s", "c1", ["a", "b"], TimeSpan.FromMinutes(1));
        Assert.Equal(["a", "b"], registry.TakeResume(Topic, "s", "c1"));
        Assert.Null(registry.TakeResume(Topic, "s", "c1"));
    }

    private static StreamRegistry NewRegistry(int maxStreams, int perSubscription)
    {
        var options = Options.Create(new ServerOptions { MaxStreams = maxStreams, MaxStreamsPerSubscription = perSubscription });
        return new StreamRegistry(options, TimeProvider.System, new StreamingMetrics(new MeterFactory()), NullLogger<StreamRegistry>.Instance);
    }

    private sealed class MeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
