namespace Sluice.Server.Hosting;

/// <summary>When a streamed answer goes out while it is being written: SSE and replay streams, gRPC consume, Beam's poll and SSE, kateway's subscribe.</summary>
internal static class ResponseFlush
{
    /// <summary>Flush within a batch once this much is written: half of Kestrel's 64 KiB response buffer, so a batch of
    /// large messages never sits whole in memory.</summary>
    public const int ThresholdBytes = 32 * 1024;
}
