using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;
using Sluice.Server.Produce;
using Sluice.Server.Topics;

namespace Sluice.Server.Compat.Pixy;

/// <summary>How a Kafka-Pixy consume acks: nothing, the message it returns, or an earlier one by position.</summary>
internal readonly record struct PixyAck(PixyAckMode Mode, int Partition = -1, long Offset = -1)
{
    public static PixyAck None => new(PixyAckMode.None);

    public static PixyAck Auto => new(PixyAckMode.Auto);
}

internal enum PixyAckMode
{
    None,
    Auto,
    Explicit,
}

/// <summary>One partition's offsets for a group, as Pixy's GetOffsets answers them.</summary>
internal sealed record PixyPartitionOffset(int Partition, long Begin, long End, long Offset)
{
    public long Count => End - Begin;

    /// <summary>Pixy's rule: a group that never committed (offset -1) has no lag.</summary>
    public long Lag => Offset < 0 ? 0 : Math.Max(0, End - Offset);
}

/// <summary>
/// The Kafka-Pixy adapter's one translation onto the core, shared by the REST routes and the gRPC service:
/// topics are Sluice topics (<see cref="PixyTopics"/>), a group is a subscription of the topic (shared, created at the
/// end of the log by its first request, with Pixy's ack timeout and retries), acks are acks by position
/// (<see cref="ISubscriptionService.AckPositionsAsync"/>), so any gateway of a fleet takes them. Nothing here reads or
/// writes anything the core does not offer. One per cluster (Pixy's <c>cluster</c>), over that cluster's log and engine.
/// </summary>
internal sealed partial class PixyGateway(
    IMessageLog log,
    ISubscriptionService subscriptions,
    TopicDirectory topics,
    Sluice.Core.Log.Partitioner partitioner,
    PendingAppends pending,
    SluiceMetrics metrics,
    IOptions<ServerOptions> options,
    ILogger<PixyGateway> logger)
{
    private readonly ServerOptions _options = options.Value;
    private readonly ConcurrentDictionary<(TopicName Topic, string Group), byte> _groups = new();

    // Every Pixy request through this gateway acts as one member of the group, as a Pixy instance does.
    private readonly string _member = $"pixy-{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Pixy's answer to a <c>cluster</c> field or route segment that names no configured cluster.</summary>
    public static PixyException UnknownCluster(string cluster)
        => new(PixyErrorKind.InvalidArgument, $"proxy `{PixyTopics.Printable(cluster)}` does not exist");

    /// <summary>
    /// Writes one message. <paramref name="key"/> null means no key (any partition); otherwise Pixy's FNV-1a placement.
    /// Async: answers at once with partition and offset -1 and appends in the background (failures are logged).
    /// </summary>
    public async ValueTask<(int Partition, long Offset)> ProduceAsync(
        TopicName topic, byte[]? key, byte[] value, IReadOnlyList<KeyValuePair<string, string>>? headers, bool async, CancellationToken cancellationToken)
    {
        if (value.Length > _options.MaxMessageBytes)
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"message is too large: {value.Length} bytes, the most is {_options.MaxMessageBytes} (maxMessageBytes)");
        }

        // Typed null: the implicit byte[] conversion (of a null literal too) makes an empty key, not none.
        var record = new RecordToAppend(key is null ? (ReadOnlyMemory<byte>?)null : key, value, headers);
        if (async)
        {
            pending.Enter();
            _ = AppendInBackgroundAsync(topic, key, record);
            return (-1, -1);
        }

        var (partition, result) = await AppendAsync(topic, key, record, cancellationToken);
        return (partition, result.BaseOffset);
    }

    private async ValueTask<(int Partition, AppendResult Result)> AppendAsync(TopicName topic, byte[]? key, RecordToAppend record, CancellationToken cancellationToken)
    {
        var count = await PartitionCountAsync(topic, cancellationToken);
        var partition = key is null ? partitioner.Choose(default, hasKey: false, count) : PixyPartitioner.ForKey(key, count);
        try
        {
            // Once started, finish it even if the client leaves: it may already be written.
            var result = await ProduceEndpoints.AppendAsync(log, topics, topic, partition, [record], CancellationToken.None);
            metrics.Produced.Add(topic, 1);
            return (partition, result);
        }
        catch (Exception ex) when (ex is TopicNotFoundException or PartitionNotFoundException)
        {
            throw new PixyException(PixyErrorKind.UnknownTopic, PixyException.UnknownTopicText);
        }
    }

    private async Task AppendInBackgroundAsync(TopicName topic, byte[]? key, RecordToAppend record)
    {
        try
        {
            await AppendAsync(topic, key, record, CancellationToken.None);
        }
        catch (Exception ex)
        {
            Log.AsyncProduceFailed(logger, topic.ToString(), ex);
        }
        finally
        {
            pending.Exit();
        }
    }

    /// <summary>
    /// Acks as asked, then takes the group's next message, waiting up to the long polling timeout; redeliveries come
    /// before new messages. Throws <see cref="PixyException"/> with "long polling timeout" when nothing came.
    /// </summary>
    public async ValueTask<Delivery> ConsumeAsync(TopicName topic, string group, PixyAck ack, CancellationToken cancellationToken)
    {
        await EnsureGroupAsync(topic, group, cancellationToken);
        if (ack.Mode == PixyAckMode.Explicit)
        {
            await subscriptions.AckPositionsAsync(topic, group, [new MessagePosition(ack.Partition, ack.Offset)], cancellationToken);
        }

        IReadOnlyList<Delivery> got;
        await using (var consumer = await subscriptions.OpenConsumerAsync(topic, group, _member, cancellationToken))
        {
            got = await consumer.ReceiveAsync(1, TimeSpan.FromMilliseconds(_options.PixyLongPollingTimeoutMs), cancellationToken);
            if (got.Count > 0 && ack.Mode == PixyAckMode.Auto)
            {
                // Pixy acks before it answers; the ack reaches disk with the next cursor write (at most 200 ms later).
                await consumer.AckAsync(got, waitDurable: false, cancellationToken);
            }
        }

        if (got.Count == 0)
        {
            throw new PixyException(PixyErrorKind.LongPollingTimeout, "long polling timeout");
        }

        return got[0];
    }

    /// <summary>Acks a consumed message by position; one that is not outstanding (already acked, say) is a no-op, as in Pixy.</summary>
    public async ValueTask AckAsync(TopicName topic, string group, int partition, long offset, CancellationToken cancellationToken)
    {
        ValidateGroup(group);
        try
        {
            await subscriptions.AckPositionsAsync(topic, group, [new MessagePosition(partition, offset)], cancellationToken);
        }
        catch (SubscriptionNotFoundException)
        {
            // Nothing was consumed by that group through Sluice: nothing to ack.
        }
    }

    /// <summary>Per partition: begin, end, the group's committed offset (-1 when the group does not exist) and lag.</summary>
    public async ValueTask<IReadOnlyList<PixyPartitionOffset>> GetOffsetsAsync(TopicName topic, string group, CancellationToken cancellationToken)
    {
        ValidateGroup(group);
        var info = await log.DescribeTopicAsync(topic, cancellationToken) ?? throw new PixyException(PixyErrorKind.UnknownTopic, "Unknown topic");
        var state = await subscriptions.GetAsync(topic, group, cancellationToken);
        var rows = new List<PixyPartitionOffset>(info.Partitions.Count);
        foreach (var p in info.Partitions)
        {
            var committed = state?.Partitions.FirstOrDefault(c => c.Partition == p.Partition)?.CommittedOffset ?? -1;
            rows.Add(new PixyPartitionOffset(p.Partition, p.StartOffset, p.EndOffset, committed));
        }

        return rows;
    }

    /// <summary>Moves the group's offsets (creating the group when needed); consumers of it continue from there at once.</summary>
    public async ValueTask SetOffsetsAsync(TopicName topic, string group, IReadOnlyList<(int Partition, long Offset)> offsets, CancellationToken cancellationToken)
    {
        ValidateGroup(group);
        var info = await log.DescribeTopicAsync(topic, cancellationToken) ?? throw new PixyException(PixyErrorKind.UnknownTopic, "Unknown topic");
        foreach (var (partition, _) in offsets)
        {
            if (partition < 0 || partition >= info.Partitions.Count)
            {
                throw new PixyException(PixyErrorKind.InvalidArgument, $"partition {partition} does not exist; topic has {info.Partitions.Count}");
            }
        }

        await EnsureGroupAsync(topic, group, cancellationToken);
        foreach (var (partition, offset) in offsets)
        {
            await subscriptions.SeekAsync(topic, group, StartPosition.AtOffset(Math.Max(0, offset), partition), cancellationToken);
        }
    }

    /// <summary>Every topic clients may see, by Pixy name, with its description.</summary>
    public async ValueTask<IReadOnlyList<(string Name, TopicInfo Info)>> ListTopicsAsync(CancellationToken cancellationToken)
    {
        var result = new List<(string, TopicInfo)>();
        foreach (var topic in await log.ListTopicsAsync(cancellationToken))
        {
            if (!topic.IsInternal && await log.DescribeTopicAsync(topic, cancellationToken) is { } info)
            {
                result.Add((PixyTopics.NameOf(topic), info));
            }
        }

        return result;
    }

    public async ValueTask<TopicInfo> GetTopicAsync(TopicName topic, CancellationToken cancellationToken)
        => await log.DescribeTopicAsync(topic, cancellationToken) ?? throw new PixyException(PixyErrorKind.UnknownTopic, "Unknown topic");

    /// <summary>Groups (subscriptions) of the topic with their connected members, each holding the topic's partitions.</summary>
    public async ValueTask<IReadOnlyDictionary<string, IReadOnlyDictionary<string, int[]>>> ListConsumersAsync(TopicName topic, string? group, CancellationToken cancellationToken)
    {
        var info = await log.DescribeTopicAsync(topic, cancellationToken) ?? throw new PixyException(PixyErrorKind.UnknownTopic, "Unknown topic");
        var partitions = Enumerable.Range(0, info.Partitions.Count).ToArray();
        var names = group is null ? await subscriptions.ListAsync(topic, cancellationToken) : [group];
        var result = new SortedDictionary<string, IReadOnlyDictionary<string, int[]>>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (await subscriptions.GetAsync(topic, name, cancellationToken) is not { } state)
            {
                continue;
            }

            var members = new SortedDictionary<string, int[]>(StringComparer.Ordinal);
            foreach (var c in state.Consumers)
            {
                members[c.ConsumerId] = partitions;
            }

            if (members.Count > 0)
            {
                result[name] = members;
            }
        }

        return result;
    }

    /// <summary>The group name as a subscription name: Sluice's name rules.</summary>
    public static void ValidateGroup(string group)
    {
        if (!TopicName.IsValidPart(group, out var reason))
        {
            throw new PixyException(PixyErrorKind.InvalidArgument, $"invalid group `{PixyTopics.Printable(group)}`: {reason}");
        }
    }

    private async ValueTask<int> PartitionCountAsync(TopicName topic, CancellationToken cancellationToken)
    {
        try
        {
            return await topics.GetPartitionCountAsync(topic, create: true, cancellationToken);
        }
        catch (ProblemException ex) when (ex.Kind == ProblemKind.TopicNotFound)
        {
            throw new PixyException(PixyErrorKind.UnknownTopic, PixyException.UnknownTopicText);
        }
    }

    // A group is a shared subscription made by its first request at the end of the log, so everything produced after
    // that request is delivered (Pixy skipped such messages: its issues #39, #182, #190).
    private async ValueTask EnsureGroupAsync(TopicName topic, string group, CancellationToken cancellationToken)
    {
        ValidateGroup(group);
        if (_groups.ContainsKey((topic, group)))
        {
            return;
        }

        await PartitionCountAsync(topic, cancellationToken);
        if (await subscriptions.GetSettingsAsync(topic, group, cancellationToken) is null)
        {
            await subscriptions.CreateOrUpdateAsync(topic, group, new SubscriptionSettings
            {
                Type = SubscriptionType.Shared,
                Position = StartPosition.Latest,
                AckDeadline = TimeSpan.FromMilliseconds(_options.PixyAckTimeoutMs),
                // Pixy's max_retries counts offers after the first; -1 retries for ever.
                MaxDeliveries = _options.PixyMaxRetries < 0 ? 0 : _options.PixyMaxRetries + 1,
            }, cancellationToken);
        }

        _groups.TryAdd((topic, group), 0);
    }

    /// <summary>Forgets what this gateway knows of a group whose subscription went away (deleted topic or subscription).</summary>
    public void Forget(TopicName topic, string group) => _groups.TryRemove((topic, group), out _);

    /// <summary>Record headers as Sluice keeps them (text); a value that is not UTF-8 is refused rather than altered.</summary>
    public static List<KeyValuePair<string, string>>? Headers(IEnumerable<(string Key, byte[] Value)> headers)
    {
        List<KeyValuePair<string, string>>? list = null;
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        foreach (var (key, value) in headers)
        {
            string text;
            try
            {
                text = strict.GetString(value);
            }
            catch (DecoderFallbackException)
            {
                throw new PixyException(PixyErrorKind.InvalidArgument, $"header `{PixyTopics.Printable(key)}`: the value is not UTF-8 text; Sluice keeps header values as text");
            }

            (list ??= []).Add(KeyValuePair.Create(key, text));
        }

        return list;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.PixyAsyncProduceFailed, Level = LogLevel.Error, Message = "A Kafka-Pixy async produce to {Topic} failed after it was answered")]
        public static partial void AsyncProduceFailed(ILogger logger, string topic, Exception exception);
    }
}
