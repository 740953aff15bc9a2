namespace Sluice.Sinks.Nats;

/// <summary>Every log event id of the nats sink, in one table so none is reused. Range 4300-4399. Only ever add.</summary>
internal static class NatsEventIds
{
    public const int StreamCreated = 4300;
    public const int StreamExtended = 4301;
}
