using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Server.Configuration;
using Sluice.Server.Security;

namespace Sluice.Server.Tests.Security;

/// <summary>With auth mode none the warning repeats every minute of the server's clock; with jwt it never does.</summary>
public sealed class UnauthenticatedWarningTests
{
    [Fact]
    public async Task AuthNone_WarnsOnEveryMinuteTick()
    {
        var clock = new ManualClock();
        var logger = new ListLogger();
        using var warning = new UnauthenticatedWarning(Options.Create(new ServerOptions()), clock, logger);
        await warning.StartAsync(CancellationToken.None);
        await clock.TimerCreated.WaitAsync(TimeSpan.FromSeconds(30)); // ExecuteAsync runs on a background thread

        for (var minute = 1; minute <= 3; minute++)
        {
            clock.Tick();
            await logger.WaitForAsync(minute);
        }

        Assert.Equal(3, logger.Messages.Count);
        Assert.All(logger.Messages, m => Assert.Contains("SLUICE HAS NO AUTHENTICATION", m, StringComparison.Ordinal));
        Assert.Equal(UnauthenticatedWarning.Interval, clock.Period);
        await warning.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AuthJwt_NeverWarns()
    {
        var clock = new ManualClock();
        var logger = new ListLogger();
        using var warning = new UnauthenticatedWarning(Options.Create(new ServerOptions { AuthMode = AuthMode.Jwt }), clock, logger);
        await warning.StartAsync(CancellationToken.None);
        await (warning.ExecuteTask ?? Task.CompletedTask);
        Assert.Null(clock.Period); // it never asked for a timer
        Assert.Empty(logger.Messages);
    }

    private sealed class ManualClock : TimeProvider
    {
        private TimerCallback? _callback;
        private object? _state;

        public TimeSpan? Period { get; private set; }

        public TaskCompletionSource TimerCreatedSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task TimerCreated => TimerCreatedSource.Task;

        public void Tick() => _callback?.Invoke(_state);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _callback = callback;
            _state = state;
            if (period != Timeout.InfiniteTimeSpan)
            {
                Period = period;
            }

            TimerCreatedSource.TrySetResult();
            return new Timer(this);
        }

        private sealed class Timer(ManualClock clock) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                if (period != Timeout.InfiniteTimeSpan)
                {
                    clock.Period = period;
                }

                return true;
            }

            public void Dispose() => clock._callback = null;

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }

    private sealed class ListLogger : ILogger<UnauthenticatedWarning>
    {
        private readonly SemaphoreSlim _logged = new(0);

        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Messages)
            {
                Messages.Add(formatter(state, exception));
            }

            _logged.Release();
        }

        public async Task WaitForAsync(int count)
        {
            while (Messages.Count < count)
            {
                Assert.True(await _logged.WaitAsync(TimeSpan.FromSeconds(30)), $"expected {count} warnings, got {Messages.Count}");
            }
        }
    }
}
