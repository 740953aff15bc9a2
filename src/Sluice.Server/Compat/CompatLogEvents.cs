namespace Sluice.Server.Compat;

/// <summary>
/// Log event ids of the compatibility adapters (the server's own table, Diagnostics/LogEvents, is 100-999): 5100-5199
/// Pulsar Beam, 5200-5299 kateway. Ids are never reused; add new ones at the end of a range.
/// </summary>
internal static class CompatLogEvents
{
    // 51xx: Pulsar Beam
    public const int BeamDocumentStored = 5100;
    public const int BeamDocumentDeleted = 5101;
    public const int BeamDocumentIgnored = 5102;

    // 52xx: kateway
    public const int KatewayOpenMode = 5200;
    public const int KatewayListening = 5201;
    public const int KatewayNoApps = 5202;
    public const int KatewayLedgerFull = 5203;
}
