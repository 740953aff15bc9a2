namespace Sluice.Sinks.Amqp;

/// <summary>Every log event id of the amqp sink, in one table so none is reused. Range 4200-4299. Only ever add.</summary>
internal static class AmqpEventIds
{
    public const int Connected = 4200;
    public const int ConnectionLost = 4201;
    public const int ExchangeDeclared = 4202;
}
