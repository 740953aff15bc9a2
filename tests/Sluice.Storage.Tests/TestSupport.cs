using System.Text;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Xunit.Abstractions;

namespace Sluice.Storage.Tests;

/// <summary>A real temporary directory, deleted at dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sluice-storage-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>A clock the test moves by hand; its timers never fire (tests trigger maintenance directly).</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public ManualTimeProvider()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverTimer();

    private sealed class NeverTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>Sends log lines to the xunit test output, so a failure explains itself; also keeps them for assertions.</summary>
internal sealed class TestLoggerFactory(ITestOutputHelper? output) : ILoggerFactory
{
    private readonly List<(LogLevel Level, int EventId, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, int EventId, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(TestLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            lock (owner._entries)
            {
                owner._entries.Add((logLevel, eventId.Id, message));
            }

            try
            {
                owner.Output?.WriteLine($"{logLevel} {category}[{eventId.Id}] {message}{(exception is null ? "" : " " + exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test already finished; background log lines have nowhere to go.
            }
        }
    }

    private ITestOutputHelper? Output => output;
}

internal static class TestRecords
{
    public static readonly TopicName Topic = new("acme", "orders", "events");

    public static RecordToAppend Value(string value, string? key = null, DateTimeOffset? timestamp = null)
        => new(key is null ? (ReadOnlyMemory<byte>?)null : Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value), null, timestamp);

    public static string Text(this StoredRecord record) => record.Value is { } v ? Encoding.UTF8.GetString(v.Span) : "<tombstone>";

    public static async Task<List<StoredRecord>> ReadAllAsync(IMessageLog log, TopicName topic, int partition, long from = -1)
    {
        var info = await log.DescribeTopicAsync(topic) ?? throw new InvalidOperationException("no topic");
        var offset = from < 0 ? info.Partitions[partition].StartOffset : from;
        var all = new List<StoredRecord>();
        while (true)
        {
            var result = await log.ReadAsync(topic, partition, offset, 1000, 1024 * 1024);
            all.AddRange(result.Records);
            if (result.NextOffset >= result.EndOffset)
            {
                return all;
            }

            Assert.True(result.NextOffset > offset, "a read must make progress");
            offset = result.NextOffset;
        }
    }
}

/// <summary>Sums what a counter of the given name records for one topic, from a real <see cref="System.Diagnostics.Metrics.MeterListener"/>.</summary>
internal sealed class CounterProbe : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private readonly string _topic;
    private long _total;

    public CounterProbe(string meter, string instrument, TopicName topic)
    {
        _topic = topic.ToString();
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == meter && i.Name == instrument)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "messaging.destination.name" && (string?)tag.Value == _topic)
                {
                    Interlocked.Add(ref _total, value);
                }
            }
        });
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
