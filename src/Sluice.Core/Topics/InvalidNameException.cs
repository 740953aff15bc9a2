namespace Sluice.Core.Topics;

/// <summary>A topic, namespace, tenant or subscription name is malformed. Nothing was changed.</summary>
public sealed class InvalidNameException(string message) : ArgumentException(message);
