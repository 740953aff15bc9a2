using System.Text.Json.Nodes;

namespace Sluice.Replication.Tests.Infrastructure;

/// <summary>
/// What a sink's test suite provides to <see cref="SinkScenarios"/>: a real target system started by the test on
/// loopback, the sink settings that point a replicator at it, and a way to read back what arrived. A new sink's suite is
/// one class implementing this, a fixture, and a few one-line test classes (see the http and postgresql suites).
/// </summary>
public interface ISinkTarget : IAsyncDisposable
{
    /// <summary>The <c>sink</c> object of a replicator writing here, naming the target per topic with <c>{topic}</c>, secrets as references.</summary>
    JsonObject Sink();

    /// <summary>The replicator's <c>secrets</c>: the values must never appear in an answer or a log line.</summary>
    IReadOnlyDictionary<string, string> Secrets { get; }

    /// <summary>True when the target keeps each record once even if it is written twice (a primary key, a message id).</summary>
    bool Deduplicates { get; }

    /// <summary>
    /// The value of the record the refusal scenario publishes and the prepared target must refuse for good. A target that
    /// can refuse by content (a CHECK constraint, a receiver's answer) keeps the default; one that can only refuse by size
    /// (RabbitMQ's max_message_size, a JetStream stream's max_msg_size, an object store's or a Kafka cluster's size limit) returns a value over its limit.
    /// </summary>
    string Poison => "poison-record";

    /// <summary>Makes the target ready for a topic; a record whose value is <paramref name="poison"/> must then be refused for good.</summary>
    Task PrepareAsync(string topic, string? poison = null);

    /// <summary>Every record that arrived for the topic, in arrival order, duplicates included.</summary>
    Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic);

    /// <summary>Takes the target down (connections refused) until <see cref="StartAsync"/>.</summary>
    Task StopAsync();

    Task StartAsync();
}

/// <summary>One record as the target holds it.</summary>
public sealed record TargetRecord(string Topic, int Partition, long Offset, string? Key, string? Value, IReadOnlyDictionary<string, string> Headers);
