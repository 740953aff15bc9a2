namespace Sluice.Server.Hosting;

internal sealed record HealthResponse(string Status);
