namespace Sluice.Sinks.Kafka;

/// <summary>Where a record goes in the target topic.</summary>
internal enum KafkaPartitioning
{
    /// <summary>The source partition's number: each partition's order is kept as it is (the target needs as many partitions).</summary>
    Source,

    /// <summary>The target producer's partitioner on the key (<c>murmur2_random</c> unless set): each key's order is kept.</summary>
    Key,
}

/// <summary>The kafka sink's settings as read and checked at registration (secrets resolved in <see cref="Config"/>).</summary>
internal sealed record KafkaSinkSettings(string Bootstrap, IReadOnlyList<(string Host, int Port)> Brokers, KafkaPartitioning Partitioning, IReadOnlyDictionary<string, string> Config)
{
    // Config values may hold secrets (sasl.password): the record's text form names none.
    public override string ToString() => $"KafkaSinkSettings {{ Bootstrap = {Bootstrap}, Partitioning = {Partitioning}, Config = [{string.Join(", ", Config.Keys)}] }}";
}
