namespace Sluice.Sinks.S3;

/// <summary>Every log event id of Sluice.Sinks.S3 (range 4400-4499), in one table so none is reused. Only ever add.</summary>
internal static class S3EventIds
{
    public const int StaleObjectsRemoved = 4400;
}
