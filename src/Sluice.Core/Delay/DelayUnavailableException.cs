namespace Sluice.Core.Delay;

/// <summary>
/// The owner of a delayed message's partition did not decide on a cancel in time (in a fleet: it died, or the partition
/// is being handed over). The request is durable and will be decided: asking again answers once it is.
/// </summary>
public sealed class DelayUnavailableException(string message) : Exception(message);
