namespace Sluice.Core.Delay;

/// <summary>A delivery time or delayed-message id that cannot be accepted (too far ahead, malformed). Nothing was written.</summary>
public sealed class InvalidDelayException(string message) : Exception(message);
