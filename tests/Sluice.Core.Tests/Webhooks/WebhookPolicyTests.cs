using Sluice.Core.Tests.Fakes;
using Sluice.Core.Topics;
using Sluice.Core.Webhooks;

namespace Sluice.Core.Tests.Webhooks;

/// <summary>Backoff, the circuit breaker's state machine (on a manual clock) and the registration record format.</summary>
public sealed class WebhookPolicyTests
{
    [Fact]
    public void Backoff_DoublesPerAttempt_IsCappedAndJitteredBetweenHalfAndAll()
    {
        var policy = new WebhookRetryPolicy { InitialInterval = TimeSpan.FromMilliseconds(100), MaxInterval = TimeSpan.FromMilliseconds(1000) };
        Assert.Equal(100, policy.Backoff(1, 1.0).TotalMilliseconds, 3);
        Assert.Equal(50, policy.Backoff(1, 0.0).TotalMilliseconds, 3);
        Assert.Equal(400, policy.Backoff(3, 1.0).TotalMilliseconds, 3);
        Assert.Equal(1000, policy.Backoff(10, 1.0).TotalMilliseconds, 3);
        Assert.Equal(1000, policy.Backoff(int.MaxValue, 1.0).TotalMilliseconds, 3);
        Assert.InRange(policy.Backoff(2, 0.5).TotalMilliseconds, 100, 200);
    }

    [Fact]
    public async Task Breaker_OpensAfterThreshold_ProbesOnceAfterCooldown_AndClosesOnSuccess()
    {
        var time = new ManualTimeProvider();
        var breaker = new CircuitBreaker(new WebhookOptions { BreakerFailureThreshold = 3, BreakerCooldown = TimeSpan.FromSeconds(10), BreakerMaxCooldown = TimeSpan.FromSeconds(15) }, time);
        Assert.Equal(int.MaxValue, await breaker.AcquireAsync(CancellationToken.None));

        breaker.OnFailure();
        breaker.OnFailure();
        Assert.Equal("closed", breaker.Info().State);
        breaker.OnNeutral();
        breaker.OnFailure();
        Assert.Equal("open", breaker.Info().State);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(10), breaker.Info().NextProbeAt);

        // While open nothing is allowed.
        var waiting = breaker.AcquireAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(1, await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("half_open", breaker.Info().State);

        // The probe is out: a second caller waits; the probe fails and the cool-down doubles (capped at 15 s).
        var second = breaker.AcquireAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(second.IsCompleted);
        breaker.OnFailure();
        Assert.Equal("open", breaker.Info().State);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(15), breaker.Info().NextProbeAt);

        time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(1, await second.WaitAsync(TimeSpan.FromSeconds(5)));
        breaker.OnSuccess();
        Assert.Equal("closed", breaker.Info().State);
        Assert.Equal(0, breaker.Info().ConsecutiveFailures);
        Assert.Equal(int.MaxValue, await breaker.AcquireAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Breaker_ClockReachingTheProbeTimeAsTheWaitStarts_LetsTheProbeOut()
    {
        // The clock passes the probe time after the breaker read it and before its timer starts: a timer started then
        // is due a whole cool-down late (never, here, since this clock moves only when told).
        var time = new JumpingClock();
        var breaker = new CircuitBreaker(new WebhookOptions { BreakerFailureThreshold = 1, BreakerCooldown = TimeSpan.FromSeconds(10) }, time);
        breaker.OnFailure();
        Assert.Equal("open", breaker.Info().State);

        time.JumpAtNextTimer = TimeSpan.FromSeconds(10);
        Assert.Equal(1, await breaker.AcquireAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("half_open", breaker.Info().State);
    }

    [Fact]
    public async Task Breaker_ProbeReturnedUnused_LetsTheNextCallerProbe()
    {
        var time = new ManualTimeProvider();
        var breaker = new CircuitBreaker(new WebhookOptions { BreakerFailureThreshold = 1, BreakerCooldown = TimeSpan.FromSeconds(1) }, time);
        breaker.OnFailure();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await breaker.AcquireAsync(CancellationToken.None));
        breaker.ReturnProbe();
        Assert.Equal(1, await breaker.AcquireAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void StoredRecord_RoundTrips()
    {
        var webhook = new WebhookDefinition
        {
            Id = "abc",
            Topic = new TopicName("t", "n", "x"),
            Subscription = "webhook-abc",
            OwnsSubscription = true,
            Url = new Uri("https://example.com/hook?a=1"),
            Headers = new Dictionary<string, string> { ["X-Token"] = "v" },
            Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Timeout = TimeSpan.FromMilliseconds(1500),
            Concurrency = 8,
            Ordering = WebhookOrdering.PerKey,
            Retry = new WebhookRetryPolicy { InitialInterval = TimeSpan.FromMilliseconds(5), MaxInterval = TimeSpan.FromSeconds(2), MaxAttempts = 3, MaxAge = TimeSpan.FromMinutes(5) },
            DeadLetterTopic = new TopicName("t", "n", "dead"),
            Paused = true,
            CreatedAt = new DateTimeOffset(2026, 11, 21, 6, 0, 0, TimeSpan.Zero),
        };
        var back = WebhookStore.Decode(WebhookStore.Encode(webhook));
        Assert.NotNull(back);
        Assert.Equal(webhook with { Headers = back.Headers }, back);
        Assert.Equal("v", back.Headers["X-Token"]);
        Assert.Null(WebhookStore.Decode("{\"v\":2}"u8));
        Assert.Null(WebhookStore.Decode("not json"u8));
    }

    /// <summary>A manual clock that moves by <see cref="JumpAtNextTimer"/> just before the next timer is made.</summary>
    private sealed class JumpingClock : TimeProvider
    {
        private readonly ManualTimeProvider _clock = new();

        public TimeSpan JumpAtNextTimer { get; set; }

        public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _clock.Advance(JumpAtNextTimer);
            JumpAtNextTimer = TimeSpan.Zero;
            return _clock.CreateTimer(callback, state, dueTime, period);
        }
    }
}
