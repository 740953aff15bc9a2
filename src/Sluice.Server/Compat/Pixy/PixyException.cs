namespace Sluice.Server.Compat.Pixy;

/// <summary>What went wrong in a Kafka-Pixy call; each front end maps the kind to its status (REST) or code (gRPC) as Pixy does.</summary>
internal enum PixyErrorKind
{
    /// <summary>REST 400; gRPC INVALID_ARGUMENT.</summary>
    InvalidArgument,

    /// <summary>REST 404; gRPC NOT_FOUND (an unknown topic), or INVALID_ARGUMENT on produce, as Pixy answers.</summary>
    UnknownTopic,

    /// <summary>REST 408; gRPC NOT_FOUND: nothing arrived within the long polling timeout.</summary>
    LongPollingTimeout,

    /// <summary>REST 503; gRPC UNAVAILABLE: shutting down.</summary>
    Unavailable,

    /// <summary>REST 403; gRPC PERMISSION_DENIED: the token may not do this (authentication on).</summary>
    Forbidden,

    /// <summary>REST 500; gRPC INTERNAL.</summary>
    Internal,
}

/// <summary>A Kafka-Pixy error with Pixy's text.</summary>
internal sealed class PixyException(PixyErrorKind kind, string message) : Exception(message)
{
    /// <summary>Sarama's text for an unknown topic, which Pixy passes on.</summary>
    public const string UnknownTopicText = "kafka server: Request was for a topic or partition that does not exist on this broker";

    public PixyErrorKind Kind { get; } = kind;
}
