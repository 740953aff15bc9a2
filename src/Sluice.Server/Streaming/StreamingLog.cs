using Sluice.Server.Diagnostics;

namespace Sluice.Server.Streaming;

/// <summary>Log messages of the streaming endpoints (ids from <see cref="LogEvents"/>, 4xx).</summary>
internal static partial class StreamingLog
{
    [LoggerMessage(EventId = LogEvents.SlowConsumerClosed, Level = LogLevel.Warning,
        Message = "Closed a slow {Kind} consumer {Consumer} of {Topic} subscription {Subscription}: its send buffer stayed full for {TimeoutMs} ms; its unacked messages are released")]
    public static partial void SlowConsumerClosed(ILogger logger, string kind, string topic, string subscription, string consumer, int timeoutMs);

    [LoggerMessage(EventId = LogEvents.StreamFailed, Level = LogLevel.Error, Message = "{Kind} stream on {Topic} failed")]
    public static partial void StreamFailed(ILogger logger, string kind, string topic, Exception exception);
}
