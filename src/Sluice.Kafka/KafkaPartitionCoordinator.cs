using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Sluice.Core.Subscriptions;
using Sluice.Core.Topics;

namespace Sluice.Kafka;

/// <summary>
/// Splits a subscription's partitions between the gateway instances of a fleet through a Kafka consumer group: one
/// group per subscription (and generation), one member per instance that has consumers of it. The member's consumer
/// is for membership only: its partitions are paused at once and the engine reads through <see cref="KafkaLog"/>.
/// </summary>
public sealed partial class KafkaPartitionCoordinator : IPartitionCoordinator
{
    private readonly KafkaLogOptions _options;
    private readonly Func<string> _bootstrapServers;
    private readonly ILogger _logger;

    /// <param name="options">Group-id prefix, session timeout and client settings.</param>
    /// <param name="bootstrapServers">The cluster's bootstrap servers, asked at each join (the mock's are known only once the log is open).</param>
    /// <param name="logger">Where membership changes are logged.</param>
    public KafkaPartitionCoordinator(KafkaLogOptions options, Func<string> bootstrapServers, ILogger<KafkaPartitionCoordinator> logger)
    {
        _options = options;
        _bootstrapServers = bootstrapServers;
        _logger = logger;
    }

    public bool IsShared => true;

    /// <summary>The group id of a subscription: prefix, Kafka topic name, subscription name and generation (hex).</summary>
    public string GroupId(TopicName topic, string subscription, long generation)
        => string.Create(CultureInfo.InvariantCulture, $"{_options.GroupIdPrefix}{KafkaTopicNames.ToKafka(topic)}.{subscription}.{generation:x}");

    public async ValueTask<IPartitionMembership> JoinAsync(TopicName topic, string subscription, long generation, IPartitionAssignmentHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        KafkaNative.EnsureLoaded();
        var membership = new Membership(this, KafkaTopicNames.ToKafka(topic), GroupId(topic, subscription, generation), handler);
        try
        {
            await membership.FirstAssignment.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await membership.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return membership;
    }

    private sealed class Membership : IPartitionMembership
    {
        // Consume returns at least this often, so stop requests and commits are handled promptly.
        private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);

        private readonly KafkaPartitionCoordinator _owner;
        private readonly string _topic;
        private readonly string _groupId;
        private readonly IPartitionAssignmentHandler _handler;
        private readonly IConsumer<Ignore, Ignore> _consumer;
        private readonly ConcurrentDictionary<int, long> _commits = new();
        private readonly TaskCompletionSource _firstAssignment = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Thread _thread;
        private volatile bool _stopping;
        private volatile bool _pausePending;

        public Membership(KafkaPartitionCoordinator owner, string topic, string groupId, IPartitionAssignmentHandler handler)
        {
            _owner = owner;
            _topic = topic;
            _groupId = groupId;
            _handler = handler;
            var config = new ConsumerConfig(KafkaClients.Base(owner._options, owner._bootstrapServers()))
            {
                GroupId = groupId,
                SessionTimeoutMs = owner._options.SessionTimeoutMs,
                HeartbeatIntervalMs = Math.Max(100, owner._options.SessionTimeoutMs / 5),
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                // Eager rebalancing: every member gives up everything, so a revoke always precedes the next owner's assign.
                PartitionAssignmentStrategy = PartitionAssignmentStrategy.RoundRobin,
            };
            _consumer = new ConsumerBuilder<Ignore, Ignore>(config)
                .SetPartitionsAssignedHandler((_, partitions) => OnAssigned(partitions))
                .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions))
                .SetPartitionsLostHandler((_, partitions) => OnRevoked(partitions))
                .SetErrorHandler((_, e) => Log.PollFailed(_owner._logger, _groupId, e.Reason))
                .SetLogHandler((_, _) => { })
                .Build();
            _consumer.Subscribe(topic);
            _thread = new Thread(Run) { IsBackground = true, Name = "sluice-kafka-member" };
            _thread.Start();
        }

        public Task FirstAssignment => _firstAssignment.Task;

        public void Commit(int partition, long offset) => _commits.AddOrUpdate(partition, offset, (_, old) => Math.Max(old, offset));

        private void OnAssigned(List<TopicPartition> partitions)
        {
            var ids = partitions.Select(p => p.Partition.Value).Order().ToList();
            Log.Assigned(_owner._logger, _groupId, string.Join(",", ids));
            try
            {
                _handler.OnAssignedAsync(ids).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                Log.HandlerFailed(_owner._logger, _groupId, ex);
            }

            _pausePending = true;
            _firstAssignment.TrySetResult();
        }

        private void OnRevoked(List<TopicPartitionOffset> partitions)
        {
            var ids = partitions.Select(p => p.Partition.Value).Order().ToList();
            Log.Revoked(_owner._logger, _groupId, string.Join(",", ids));
            FlushCommits(ids);
            try
            {
                // The rebalance waits for this: the engine makes its cursors durable before the next owner loads them.
                _handler.OnRevokedAsync(ids).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                Log.HandlerFailed(_owner._logger, _groupId, ex);
            }
        }

        private void Run()
        {
            try
            {
                while (!_stopping)
                {
                    try
                    {
                        _ = _consumer.Consume(PollSlice); // runs the rebalance callbacks; records are never used
                        if (_pausePending)
                        {
                            _pausePending = false;
                            _consumer.Pause(_consumer.Assignment);
                        }

                        FlushCommits(null);
                    }
                    catch (KafkaException ex)
                    {
                        Log.PollFailed(_owner._logger, _groupId, ex.Error.Reason);
                    }
                }

                try
                {
                    _consumer.Close(); // leaves the group: the revoke callback runs here
                }
                catch (KafkaException ex)
                {
                    Log.PollFailed(_owner._logger, _groupId, ex.Error.Reason);
                }
            }
            finally
            {
                _consumer.Dispose();
                _firstAssignment.TrySetCanceled();
                _stopped.TrySetResult();
            }
        }

        private void FlushCommits(List<int>? only)
        {
            if (_commits.IsEmpty)
            {
                return;
            }

            var owned = _consumer.Assignment.Select(p => p.Partition.Value).ToHashSet();
            var offsets = new List<TopicPartitionOffset>();
            foreach (var (partition, offset) in _commits)
            {
                if (owned.Contains(partition) && (only is null || only.Contains(partition)) && _commits.TryRemove(new(partition, offset)))
                {
                    offsets.Add(new TopicPartitionOffset(_topic, partition, offset));
                }
            }

            if (offsets.Count == 0)
            {
                return;
            }

            try
            {
                _consumer.Commit(offsets);
            }
            catch (KafkaException ex)
            {
                // Best effort: the engine's cursor topic is the source of truth.
                Log.CommitFailed(_owner._logger, _groupId, ex.Error.Reason);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stopping = true;
            await _stopped.Task.ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = KafkaEventIds.CoordinatorAssigned, Level = LogLevel.Information, Message = "Group {GroupId}: assigned partitions [{Partitions}]")]
        public static partial void Assigned(ILogger logger, string groupId, string partitions);

        [LoggerMessage(EventId = KafkaEventIds.CoordinatorRevoked, Level = LogLevel.Information, Message = "Group {GroupId}: revoked partitions [{Partitions}]")]
        public static partial void Revoked(ILogger logger, string groupId, string partitions);

        [LoggerMessage(EventId = KafkaEventIds.CoordinatorHandlerFailed, Level = LogLevel.Error, Message = "Group {GroupId}: the assignment handler failed")]
        public static partial void HandlerFailed(ILogger logger, string groupId, Exception exception);

        [LoggerMessage(EventId = KafkaEventIds.CoordinatorCommitFailed, Level = LogLevel.Warning, Message = "Group {GroupId}: committing offsets failed: {Reason}")]
        public static partial void CommitFailed(ILogger logger, string groupId, string reason);

        [LoggerMessage(EventId = KafkaEventIds.CoordinatorPollFailed, Level = LogLevel.Warning, Message = "Group {GroupId}: {Reason}")]
        public static partial void PollFailed(ILogger logger, string groupId, string reason);
    }
}
