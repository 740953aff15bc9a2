using Sluice.Core.Log;

namespace Sluice.Server.Compat.Kateway;

/// <summary>What kateway's handlers use: the shared services, kateway's app keys and ack ledger, and the log (peek).</summary>
internal sealed class KatewayServices(IServiceProvider services) : CompatServices(services, "Sluice.Server.Compat.Kateway")
{
    public KatewayAccess Access { get; } = services.GetRequiredService<KatewayAccess>();

    public KatewayLedger Ledger { get; } = services.GetRequiredService<KatewayLedger>();

    public IMessageLog Log { get; } = services.GetRequiredService<IMessageLog>();
}
