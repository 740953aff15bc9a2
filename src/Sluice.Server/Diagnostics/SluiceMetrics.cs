using System.Diagnostics.Metrics;

namespace Sluice.Server.Diagnostics;

/// <summary>
/// The <c>Sluice</c> meter. Request durations come from ASP.NET Core's own <c>http.server.request.duration</c>.
/// </summary>
internal sealed class SluiceMetrics : IDisposable
{
    public const string MeterName = "Sluice";

    private readonly Meter _meter;

    public SluiceMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        Produced = _meter.CreateCounter<long>("sluice.messages.produced", "{message}", "Messages appended to topics");
        Delivered = _meter.CreateCounter<long>("sluice.messages.delivered", "{message}", "Messages handed to consumers (redeliveries included)");
        Acked = _meter.CreateCounter<long>("sluice.messages.acked", "{message}", "Messages acknowledged");
    }

    public Counter<long> Produced { get; }

    public Counter<long> Delivered { get; }

    public Counter<long> Acked { get; }

    public void Dispose() => _meter.Dispose();
}
