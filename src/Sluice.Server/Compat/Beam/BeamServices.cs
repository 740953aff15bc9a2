using Sluice.Server.Streaming;

namespace Sluice.Server.Compat.Beam;

/// <summary>What Beam's handlers use: the shared services, Beam's access rules and documents, and the stream registry.</summary>
internal sealed class BeamServices(IServiceProvider services) : CompatServices(services, "Sluice.Server.Compat.Beam")
{
    public BeamAccess Access { get; } = services.GetRequiredService<BeamAccess>();

    public BeamDocumentStore Documents { get; } = services.GetRequiredService<BeamDocumentStore>();

    public StreamRegistry Streams { get; } = services.GetRequiredService<StreamRegistry>();

    public StreamingMetrics StreamingMetrics { get; } = services.GetRequiredService<StreamingMetrics>();
}
