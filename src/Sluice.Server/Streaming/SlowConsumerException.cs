namespace Sluice.Server.Streaming;

/// <summary>A stream's send buffer stayed full past <c>streaming:slowConsumerTimeoutMs</c>: the client stopped reading.</summary>
internal sealed class SlowConsumerException() : Exception("the client did not read the stream within the slow-consumer timeout");
