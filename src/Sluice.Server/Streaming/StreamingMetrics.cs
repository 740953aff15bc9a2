using System.Diagnostics.Metrics;
using Sluice.Server.Diagnostics;

namespace Sluice.Server.Streaming;

/// <summary>Streaming instruments on the server's <c>Sluice</c> meter (the factory hands back the same meter).</summary>
internal sealed class StreamingMetrics
{
    public StreamingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(SluiceMetrics.MeterName);
        Open = meter.CreateUpDownCounter<long>("sluice.streams.open", "{stream}", "Open SSE and WebSocket streams");
        Refused = meter.CreateCounter<long>("sluice.streams.refused", "{stream}", "Streams refused by streaming:maxStreams or streaming:maxStreamsPerSubscription");
        SlowConsumers = meter.CreateCounter<long>("sluice.streams.slow_consumer_closed", "{stream}", "Streams closed because their send buffer stayed full past streaming:slowConsumerTimeoutMs");
    }

    public UpDownCounter<long> Open { get; }

    public Counter<long> Refused { get; }

    public Counter<long> SlowConsumers { get; }
}
