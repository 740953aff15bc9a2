using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Server.Configuration;
using Sluice.Server.Diagnostics;
using Sluice.Server.Problems;

namespace Sluice.Server.Topics;

/// <summary>
/// Knows each topic's partition count without asking the log on every produce, and creates topics on
/// first use when <c>topics:autoCreate</c> is on. The cache is dropped for a topic whenever the log says
/// it or a partition is gone.
/// </summary>
internal sealed partial class TopicDirectory(IMessageLog log, IOptions<ServerOptions> options, Security.TenantQuotas quotas, ILogger<TopicDirectory> logger)
{
    private readonly ConcurrentDictionary<TopicName, int> _partitions = new();
    private readonly ServerOptions _options = options.Value;

    public TopicSettings DefaultSettings => new()
    {
        Partitions = _options.DefaultPartitions,
        RetentionTime = _options.RetentionMs > 0 ? TimeSpan.FromMilliseconds(_options.RetentionMs) : null,
        RetentionBytes = _options.RetentionBytes > 0 ? _options.RetentionBytes : null,
    };

    /// <summary>The topic's partition count; creates the topic when allowed and <paramref name="create"/> is true.</summary>
    public ValueTask<int> GetPartitionCountAsync(TopicName topic, bool create, CancellationToken cancellationToken)
        => _partitions.TryGetValue(topic, out var count) ? ValueTask.FromResult(count) : LookUpAsync(topic, create, cancellationToken);

    public void Remember(TopicInfo info) => _partitions[info.Name] = info.Partitions.Count;

    public void Forget(TopicName topic) => _partitions.TryRemove(topic, out _);

    private async ValueTask<int> LookUpAsync(TopicName topic, bool create, CancellationToken cancellationToken)
    {
        var info = await log.DescribeTopicAsync(topic, cancellationToken);
        if (info is null)
        {
            if (!create || !_options.AutoCreateTopics)
            {
                ProblemException.Throw(ProblemKind.TopicNotFound, _options.AutoCreateTopics || !create
                    ? $"topic '{topic}' does not exist; create it with PUT /v1/topics/{topic}"
                    : $"topic '{topic}' does not exist and topics:autoCreate is off; create it with PUT /v1/topics/{topic}");
            }

            await quotas.CheckTopicAsync(topic, cancellationToken);
            try
            {
                info = await log.CreateTopicAsync(topic, DefaultSettings, cancellationToken);
                Log.TopicAutoCreated(logger, topic.ToString(), info.Partitions.Count);
            }
            catch (TopicAlreadyExistsException)
            {
                info = await log.DescribeTopicAsync(topic, cancellationToken) ?? throw new TopicNotFoundException(topic);
            }
        }

        Remember(info);
        return info.Partitions.Count;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.TopicAutoCreated, Level = LogLevel.Information, Message = "Created topic {Topic} with {Partitions} partitions on first use")]
        public static partial void TopicAutoCreated(ILogger logger, string topic, int partitions);
    }
}
