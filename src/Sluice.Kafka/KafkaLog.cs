using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Kafka;

/// <summary>
/// <see cref="IMessageLog"/> on a Kafka cluster. Topics are Kafka topics (named by <see cref="KafkaTopicNames"/>),
/// appends go through one shared idempotent producer (acks=all), reads through a bounded pool of assign-mode consumers,
/// waits through local wake-ups plus end-offset polling.
/// </summary>
/// <remarks>
/// <para>In mock mode (<see cref="KafkaLogOptions.MockBrokers"/>) this object hosts librdkafka's mock cluster, which has
/// no admin API: topics are created and deleted through its C API, topic settings other than the partition count are
/// kept in memory (the mock's data is in memory too), and partition growth is refused
/// (<see cref="OperationNotSupportedException"/>).</para>
/// <para>Latency of <see cref="WaitForDataAsync"/>: appends made through this instance wake waiters at once; data
/// produced by another gateway or a plain Kafka client is seen by polling end offsets every
/// <see cref="KafkaLogOptions.WaitPollInterval"/>, and only while someone waits (the mock's fetch does not long-poll,
/// so a parked fetch would spin).</para>
/// <para><see cref="PartitionInfo.Bytes"/> is 0 and the partition timestamps are null: the Kafka protocol has no cheap
/// per-partition size, and reading first and last record on every describe would cost two fetches per partition.</para>
/// </remarks>
public sealed partial class KafkaLog : IMessageLog
{
    private readonly KafkaLogOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly KafkaMockCluster? _mock;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly IConsumer<byte[]?, byte[]?> _offsets;
    private readonly KafkaReaderPool _readers;
    private readonly KafkaWaiters _waiters;
    private readonly ConcurrentDictionary<string, TopicState> _topics = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private volatile bool _disposed;

    private KafkaLog(KafkaLogOptions options, ILoggerFactory loggerFactory, TimeProvider time, KafkaMockCluster? mock, string bootstrapServers)
    {
        _options = options;
        _logger = loggerFactory.CreateLogger<KafkaLog>();
        _time = time;
        _mock = mock;
        BootstrapServers = bootstrapServers;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaClients.Producer(options, bootstrapServers))
            .SetLogHandler((_, m) => OnClientLog(m))
            .SetErrorHandler((_, e) => OnClientError(e))
            .Build();
        _offsets = new ConsumerBuilder<byte[]?, byte[]?>(KafkaClients.Reader(options, bootstrapServers))
            .SetLogHandler((_, m) => OnClientLog(m))
            .SetErrorHandler((_, e) => OnClientError(e))
            .Build();
        _readers = new KafkaReaderPool(options, bootstrapServers, time, OnClientLog, OnClientError);
        _waiters = new KafkaWaiters(options.WaitPollInterval, QueryEnd, ex => Log.WatermarkPollFailed(_logger, ex));
    }

    /// <summary>The cluster's bootstrap servers (the mock's when this instance hosts it).</summary>
    public string BootstrapServers { get; }

    /// <summary>True when this instance hosts librdkafka's mock cluster.</summary>
    public bool IsMock => _mock is not null;

    /// <summary>
    /// Connects (starting the mock cluster first in mock mode) and waits until the cluster answers metadata, for at
    /// most <see cref="KafkaLogOptions.ConnectTimeout"/>. Throws <see cref="ArgumentException"/> for bad options.
    /// </summary>
    public static Task<KafkaLog> OpenAsync(KafkaLogOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid Kafka options: " + string.Join("; ", problems), nameof(options));
        }

        return Task.Run(() => Open(options, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System, cancellationToken), cancellationToken);
    }

    private static KafkaLog Open(KafkaLogOptions options, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken cancellationToken)
    {
        KafkaNative.EnsureLoaded();
        var mock = options.MockBrokers > 0 ? KafkaMockCluster.Start(options.MockBrokers) : null;
        var bootstrap = mock?.BootstrapServers ?? options.BootstrapServers;
        var log = new KafkaLog(options, loggerFactory, time, mock, bootstrap);
        try
        {
            if (mock is not null)
            {
                Log.MockClusterStarted(log._logger, options.MockBrokers, bootstrap);
            }

            var deadline = time.GetUtcNow() + options.ConnectTimeout;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var metadata = log.GetMetadata(TimeSpan.FromSeconds(2));
                    log.Absorb(metadata);
                    Log.Connected(log._logger, bootstrap, metadata.Brokers.Count, log._topics.Count, KafkaNative.Version);
                    break;
                }
                catch (KafkaException ex) when (time.GetUtcNow() < deadline)
                {
                    Log.ClusterNotAnswering(log._logger, bootstrap, ex.Error.Reason);
                }
            }

            return log;
        }
        catch
        {
            log.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    // ---------------------------------------------------------------- metadata

    private void Absorb(Metadata metadata)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in metadata.Topics)
        {
            if (t.Error.IsError || !KafkaTopicNames.TryFromKafka(t.Topic, out var name))
            {
                continue;
            }

            seen.Add(t.Topic);
            var count = t.Partitions.Count;
            _topics.AddOrUpdate(t.Topic, _ => new TopicState(name.Value, t.Topic, count), (_, s) => s.Grow(count));
        }

        foreach (var known in _topics.Keys)
        {
            if (!seen.Contains(known))
            {
                _topics.TryRemove(known, out _);
            }
        }
    }

    private TopicState? Refresh(TopicName topic)
    {
        var kafkaName = KafkaTopicNames.ToKafka(topic);
        Absorb(GetMetadata(_options.RequestTimeout));
        return _topics.GetValueOrDefault(kafkaName);
    }

    private TopicState? Find(TopicName topic, bool refresh)
    {
        ThrowIfDisposed();
        var kafkaName = KafkaTopicNames.ToKafka(topic);
        return _topics.TryGetValue(kafkaName, out var state) ? state : refresh ? Refresh(topic) : null;
    }

    private TopicState GetTopic(TopicName topic) => Find(topic, refresh: true) ?? throw new TopicNotFoundException(topic);

    private TopicState GetPartition(TopicName topic, int partition)
    {
        var state = GetTopic(topic);
        if ((uint)partition >= (uint)state.PartitionCount)
        {
            // Another gateway or an operator may have added partitions.
            state = Refresh(topic) ?? throw new TopicNotFoundException(topic);
            if ((uint)partition >= (uint)state.PartitionCount)
            {
                throw new PartitionNotFoundException(topic, partition, state.PartitionCount);
            }
        }

        return state;
    }

    // ---------------------------------------------------------------- admin

    /// <inheritdoc />
    public async ValueTask<TopicInfo> CreateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        ValidateSettings(settings);
        var kafkaName = KafkaTopicNames.ToKafka(topic);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Find(topic, refresh: true) is not null)
            {
                throw new TopicAlreadyExistsException(topic);
            }

            if (_mock is not null)
            {
                _mock.CreateTopic(kafkaName, settings.Partitions);
            }
            else
            {
                await RunAdminAsync("CreateTopics", admin => admin.CreateTopicsAsync(
                    [new TopicSpecification { Name = kafkaName, NumPartitions = settings.Partitions, ReplicationFactor = _options.ReplicationFactor, Configs = TopicConfigs(settings) }],
                    new CreateTopicsOptions { RequestTimeout = _options.RequestTimeout, OperationTimeout = _options.RequestTimeout })).ConfigureAwait(false);
            }

            var state = _topics.GetOrAdd(kafkaName, _ => new TopicState(topic, kafkaName, settings.Partitions));
            state.Settings = settings;
            Log.TopicCreated(_logger, topic.ToString(), kafkaName, settings.Partitions);
            return Describe(state);
        }
        catch (CreateTopicsException ex) when (ex.Results.Any(r => r.Error.Code == ErrorCode.TopicAlreadyExists))
        {
            throw new TopicAlreadyExistsException(topic);
        }
        finally
        {
            _adminLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<TopicInfo> UpdateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        ValidateSettings(settings);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = GetTopic(topic);
            if (settings.Partitions < state.PartitionCount)
            {
                throw new InvalidTopicSettingsException(
                    $"partition count may only grow: topic '{topic}' has {state.PartitionCount} partitions, asked for {settings.Partitions}");
            }

            if (_mock is not null)
            {
                if (settings.Partitions > state.PartitionCount)
                {
                    throw new OperationNotSupportedException(
                        $"cannot grow topic '{topic}' to {settings.Partitions} partitions: librdkafka's mock cluster has no CreatePartitions API");
                }
            }
            else
            {
                if (settings.Partitions > state.PartitionCount)
                {
                    await RunAdminAsync("CreatePartitions", admin => admin.CreatePartitionsAsync(
                        [new PartitionsSpecification { Topic = state.KafkaName, IncreaseTo = settings.Partitions }],
                        new CreatePartitionsOptions { RequestTimeout = _options.RequestTimeout, OperationTimeout = _options.RequestTimeout })).ConfigureAwait(false);
                }

                await RunAdminAsync("AlterConfigs", admin => admin.AlterConfigsAsync(
                    new Dictionary<ConfigResource, List<ConfigEntry>>
                    {
                        [new ConfigResource { Type = ResourceType.Topic, Name = state.KafkaName }] =
                            [.. TopicConfigs(settings).Select(kv => new ConfigEntry { Name = kv.Key, Value = kv.Value })],
                    },
                    new AlterConfigsOptions { RequestTimeout = _options.RequestTimeout })).ConfigureAwait(false);
            }

            state.Grow(settings.Partitions);
            state.Settings = settings;
            Log.TopicUpdated(_logger, topic.ToString(), settings.Partitions);
            return Describe(state);
        }
        finally
        {
            _adminLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = Find(topic, refresh: true);
            if (state is null)
            {
                return false;
            }

            if (_mock is not null)
            {
                _mock.DeleteTopic(state.KafkaName);
            }
            else
            {
                await RunAdminAsync("DeleteTopics", admin => admin.DeleteTopicsAsync(
                    [state.KafkaName], new DeleteTopicsOptions { RequestTimeout = _options.RequestTimeout, OperationTimeout = _options.RequestTimeout })).ConfigureAwait(false);
            }

            _topics.TryRemove(state.KafkaName, out _);
            _readers.Forget(state.KafkaName);
            _waiters.FailTopic(state.KafkaName, new TopicNotFoundException(topic));
            Log.TopicDeleted(_logger, topic.ToString());
            return true;
        }
        finally
        {
            _adminLock.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TopicName>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            ThrowIfDisposed();
            Absorb(GetMetadata(_options.RequestTimeout));
            var names = _topics.Values.Select(s => s.Name).ToList();
            names.Sort((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
            return ValueTask.FromResult<IReadOnlyList<TopicName>>(names);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<IReadOnlyList<TopicName>>(ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>From the cached metadata (refreshed only for a topic not known yet): every pull attaches a consumer and
    /// asks this, and a describe would query each partition's watermarks from the brokers.</remarks>
    public ValueTask<int?> GetPartitionCountAsync(TopicName topic, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Find(topic, refresh: true)?.PartitionCount);

    /// <inheritdoc />
    public async ValueTask<TopicInfo?> DescribeTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        var state = Find(topic, refresh: true);
        if (state is null)
        {
            return null;
        }

        if (_mock is null && !state.SettingsLoaded && !_noDescribeConfigs)
        {
            state.Settings = await LoadSettingsAsync(state).ConfigureAwait(false);
        }

        return Describe(state);
    }

    private TopicInfo Describe(TopicState state)
    {
        var partitions = new PartitionInfo[state.PartitionCount];
        for (var p = 0; p < partitions.Length; p++)
        {
            var w = Watermarks(state, p);
            partitions[p] = new PartitionInfo(p, w.Low, w.High, 0, null, null);
        }

        return new TopicInfo(state.Name, state.Settings with { Partitions = partitions.Length }, partitions);
    }

    // 3 s: a cluster that has the API answers in milliseconds; one that lacks it never answers, and every gateway of a
    // fleet on such a cluster would otherwise wait the whole request timeout at start.
    private static readonly TimeSpan DescribeConfigsTimeout = TimeSpan.FromSeconds(3);

    // Set once DescribeConfigs timed out or was refused as unsupported: the cluster lacks it.
    private volatile bool _noDescribeConfigs;

    private async Task<TopicSettings> LoadSettingsAsync(TopicState state)
    {
        var settings = new TopicSettings { Partitions = state.PartitionCount };
        try
        {
            using var admin = Admin();
            var results = await admin.DescribeConfigsAsync(
                [new ConfigResource { Type = ResourceType.Topic, Name = state.KafkaName }],
                new DescribeConfigsOptions { RequestTimeout = DescribeConfigsTimeout }).ConfigureAwait(false);
            var entries = results[0].Entries;
            if (entries.TryGetValue("retention.ms", out var ms) && long.TryParse(ms.Value, out var retentionMs) && retentionMs > 0)
            {
                settings = settings with { RetentionTime = TimeSpan.FromMilliseconds(retentionMs) };
            }

            if (entries.TryGetValue("retention.bytes", out var b) && long.TryParse(b.Value, out var retentionBytes) && retentionBytes > 0)
            {
                settings = settings with { RetentionBytes = retentionBytes };
            }

            if (entries.TryGetValue("cleanup.policy", out var policy))
            {
                settings = settings with { Compacted = policy.Value.Contains("compact", StringComparison.Ordinal) };
            }

            state.SettingsLoaded = true;
        }
        catch (KafkaException ex)
        {
            // A cluster without DescribeConfigs (another gateway's mock cluster, or no ACL for it): describe what is
            // known, and do not ask again (each try would wait for the timeout).
            Log.ClientError(_logger, ex.Error.Code.ToString(), ex.Error.Reason);
            state.SettingsLoaded = true;
            _noDescribeConfigs |= ex.Error.Code is ErrorCode.Local_TimedOut or ErrorCode.UnsupportedVersion;
        }

        return settings;
    }

    private static Dictionary<string, string> TopicConfigs(TopicSettings settings) => new()
    {
        ["retention.ms"] = settings.RetentionTime is { } t ? ((long)t.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) : "-1",
        ["retention.bytes"] = settings.RetentionBytes is { } b ? b.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-1",
        ["cleanup.policy"] = settings.Compacted ? "compact" : "delete",
    };

    // An admin client over the producer's connections, made per use: a long-lived one spins its result-queue poll
    // (measured with Confluent.Kafka 1.9.3 over librdkafka 2.0.2: ~5% of a core on an idle gateway).
    private IAdminClient Admin() => new DependentAdminClientBuilder(_producer.Handle).Build();

    /// <summary>Asks the cluster for a topic's metadata through a client's own handle, which updates that client's cache.</summary>
    private void RefreshClientMetadata(Handle handle, string kafkaName)
    {
        using var admin = new DependentAdminClientBuilder(handle).Build();
        admin.GetMetadata(kafkaName, _options.RequestTimeout);
    }

    private Metadata GetMetadata(TimeSpan timeout)
    {
        using var admin = Admin();
        return admin.GetMetadata(timeout);
    }

    private async Task RunAdminAsync(string api, Func<IAdminClient, Task> call)
    {
        try
        {
            using var admin = Admin();
            await call(admin).ConfigureAwait(false);
        }
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.Local_TimedOut or ErrorCode.UnsupportedVersion or ErrorCode.InvalidRequest)
        {
            // A cluster that lacks the API (such as another gateway's mock cluster) never elects a controller for it.
            throw new OperationNotSupportedException($"the Kafka cluster did not answer {api} ({ex.Error.Reason}); it may not implement that API (librdkafka's mock cluster does not)");
        }
    }

    private static void ValidateSettings(TopicSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Validate() is { } problem)
        {
            throw new InvalidTopicSettingsException(problem);
        }
    }

    // ---------------------------------------------------------------- data

    /// <inheritdoc />
    public async ValueTask<AppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<RecordToAppend> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var state = GetPartition(topic, partition);
        var messages = new Message<byte[]?, byte[]?>[records.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = ToMessage(records[i]);
        }

        if (messages.Length == 0)
        {
            return new AppendResult(Watermarks(state, partition).High, 0, _time.GetUtcNow());
        }

        var tp = new TopicPartition(state.KafkaName, partition);
        var batch = new AppendBatch(messages.Length);
        Action<DeliveryReport<byte[]?, byte[]?>> report = batch.Report; // one delegate per call, not a closure per record
        // One lock per partition around the enqueueing only: the records of one call enter librdkafka's partition
        // queue back to back, and the idempotent producer keeps that order, so they get consecutive offsets.
        var refreshed = false;
        lock (state.AppendLock(partition))
        {
            for (var i = 0; i < messages.Length; i++)
            {
                while (true)
                {
                    try
                    {
                        _producer.Produce(tp, messages[i], report);
                        break;
                    }
                    catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        Thread.Sleep(1);
                    }
                    catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_UnknownPartition && i == 0 && !refreshed)
                    {
                        // The topic has this partition (checked above) but the producer's metadata is older.
                        RefreshClientMetadata(_producer.Handle, state.KafkaName);
                        refreshed = true;
                    }
                    catch (ProduceException<byte[]?, byte[]?> ex) when (i == 0)
                    {
                        throw MapProduceError(topic, partition, state, ex.Error);
                    }
                    catch (ProduceException<byte[]?, byte[]?> ex)
                    {
                        // Records already enqueued will still be reported; fail the rest.
                        batch.Fail(messages.Length - i, ex.Error);
                        goto enqueued;
                    }
                }
            }

        enqueued:;
        }

        var (first, last, error) = await batch.Task.ConfigureAwait(false);
        if (error is not null)
        {
            throw MapProduceError(topic, partition, state, error);
        }

        _waiters.Appended(state.KafkaName, partition, last + 1);
        // The message's own stamp: the mock cluster reports a fixed log-append time in delivery reports.
        return new AppendResult(first, messages.Length, messages[^1].Timestamp.UtcDateTime);
    }

    private Message<byte[]?, byte[]?> ToMessage(RecordToAppend record)
    {
        long size = (record.Key?.Length ?? 0) + (record.Value?.Length ?? 0);
        Headers? headers = null;
        if (record.Headers is { Count: > 0 })
        {
            headers = [];
            foreach (var (name, value) in record.Headers)
            {
                var bytes = Encoding.UTF8.GetBytes(value);
                size += Encoding.UTF8.GetByteCount(name) + bytes.Length;
                headers.Add(name, bytes);
            }
        }

        if (size > _options.MaxRecordBytes)
        {
            throw new RecordTooLargeException(size, _options.MaxRecordBytes);
        }

        return new Message<byte[]?, byte[]?>
        {
            Key = WholeArray(record.Key),
            Value = WholeArray(record.Value),
            Headers = headers,
            // Stamped here rather than by librdkafka, so the delivery report carries the same time the broker stores.
            Timestamp = new Timestamp(record.Timestamp ?? _time.GetUtcNow()),
        };
    }

    // The record's own array when the memory spans all of one (the server reads values into exact arrays), else a copy.
    private static byte[]? WholeArray(ReadOnlyMemory<byte>? memory)
    {
        if (memory is not { } m)
        {
            return null;
        }

        return System.Runtime.InteropServices.MemoryMarshal.TryGetArray(m, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : m.ToArray();
    }

    private Exception MapProduceError(TopicName topic, int partition, TopicState state, Error error)
    {
        switch (error.Code)
        {
            case ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic:
                _topics.TryRemove(state.KafkaName, out _);
                return new TopicNotFoundException(topic);
            case ErrorCode.Local_UnknownPartition:
                return new PartitionNotFoundException(topic, partition, state.PartitionCount);
            case ErrorCode.MsgSizeTooLarge:
                return new RecordTooLargeException(_options.MaxRecordBytes + 1L, _options.MaxRecordBytes);
            default:
                return new KafkaException(error);
        }
    }

    /// <inheritdoc />
    public async ValueTask<ReadResult> ReadAsync(TopicName topic, int partition, long offset, int maxCount, int maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var state = GetPartition(topic, partition);
        var (low, high) = Watermarks(state, partition);
        if (offset < low || offset > high)
        {
            throw new OffsetOutOfRangeException(partition, offset, low, high);
        }

        if (offset == high)
        {
            return new ReadResult([], offset, high);
        }

        var reader = await _readers.RentAsync(state.KafkaName, partition, offset, cancellationToken).ConfigureAwait(false);
        try
        {
            return reader.Read(state.KafkaName, partition, offset, high, maxCount, maxBytes, _options.RequestTimeout, cancellationToken);
        }
        catch (ConsumeException ex) when (ex.Error.Code is ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic)
        {
            reader.Reset();
            throw new TopicNotFoundException(topic);
        }
        catch
        {
            reader.Reset();
            throw;
        }
        finally
        {
            _readers.Return(reader);
        }
    }

    /// <inheritdoc />
    /// <remarks>DeleteRecords on a real cluster; nothing on the mock cluster, which has no such API.</remarks>
    public async ValueTask DeleteRecordsBeforeAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        var state = GetPartition(topic, partition);
        if (_mock is not null)
        {
            return;
        }

        await RunAdminAsync("DeleteRecords", admin => admin.DeleteRecordsAsync(
            [new TopicPartitionOffset(state.KafkaName, partition, offset)],
            new DeleteRecordsOptions { RequestTimeout = _options.RequestTimeout, OperationTimeout = _options.RequestTimeout })).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<long> FindOffsetAsync(TopicName topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        var state = GetPartition(topic, partition);
        if (_mock is null)
        {
            var result = _offsets.OffsetsForTimes(
                [new TopicPartitionTimestamp(state.KafkaName, partition, new Timestamp(timestamp))], _options.RequestTimeout);
            var offset = result[0].Offset;
            return offset.Value >= 0 ? offset.Value : Watermarks(state, partition).High;
        }

        // The mock's ListOffsets answers only "earliest" and "latest": binary search over the records' timestamps
        // (non-decreasing when producers stamp with the current time, as Sluice does).
        var (lo, hi) = Watermarks(state, partition);
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var read = await ReadAsync(topic, partition, mid, 1, 1, cancellationToken).ConfigureAwait(false);
            if (read.Records.Count == 0)
            {
                hi = mid;
            }
            else if (read.Records[0].Timestamp >= timestamp)
            {
                hi = mid;
            }
            else
            {
                lo = read.Records[0].Offset + 1;
            }
        }

        return lo;
    }

    /// <inheritdoc />
    public ValueTask WaitForDataAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        try
        {
            var state = GetPartition(topic, partition);
            return _waiters.WaitAsync(state.Name, state.KafkaName, partition, offset, cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    private (long Low, long High) Watermarks(TopicState state, int partition)
    {
        try
        {
            WatermarkOffsets w;
            try
            {
                w = _offsets.QueryWatermarkOffsets(new TopicPartition(state.KafkaName, partition), _options.RequestTimeout);
            }
            catch (KafkaException ex) when (ex.Error.Code == ErrorCode.Local_UnknownPartition)
            {
                // The topic has this partition (the caller checked) but this client's metadata is older: it was grown,
                // or deleted and created again with more partitions.
                RefreshClientMetadata(_offsets.Handle, state.KafkaName);
                w = _offsets.QueryWatermarkOffsets(new TopicPartition(state.KafkaName, partition), _options.RequestTimeout);
            }

            return (w.Low.Value, w.High.Value);
        }
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic)
        {
            _topics.TryRemove(state.KafkaName, out _);
            throw new TopicNotFoundException(state.Name);
        }
    }

    private long QueryEnd(string kafkaName, int partition)
        => _offsets.QueryWatermarkOffsets(new TopicPartition(kafkaName, partition), _options.RequestTimeout).High.Value;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void OnClientLog(LogMessage message)
    {
        // AUTOCREATE: the mock cluster speaks an old Metadata version; Sluice never names unknown topics anyway.
        if (message.Level <= SyslogLevel.Warning && message.Facility != "AUTOCREATE")
        {
            Log.ClientLog(_logger, message.Facility, message.Message);
        }
    }

    private void OnClientError(Error error)
    {
        if (!_disposed)
        {
            Log.ClientError(_logger, error.Code.ToString(), error.Reason);
        }
    }

    /// <summary>Flushes the producer, closes every client, and stops the mock cluster when this instance hosts it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await Task.Run(() =>
        {
            _waiters.Dispose();
            _readers.Dispose();
            _producer.Flush(_options.RequestTimeout);
            _offsets.Dispose();
            _producer.Dispose();
            _mock?.Dispose();
        }).ConfigureAwait(false);
        _adminLock.Dispose();
    }

    private sealed class TopicState(TopicName name, string kafkaName, int partitions)
    {
        private object[] _appendLocks = CreateLocks(partitions);

        public TopicName Name { get; } = name;

        public string KafkaName { get; } = kafkaName;

        public int PartitionCount => Volatile.Read(ref _appendLocks).Length;

        public TopicSettings Settings { get; set; } = new() { Partitions = partitions };

        public bool SettingsLoaded { get; set; }

        public object AppendLock(int partition) => Volatile.Read(ref _appendLocks)[partition];

        public TopicState Grow(int partitions)
        {
            lock (this)
            {
                var current = _appendLocks;
                if (partitions > current.Length)
                {
                    var grown = CreateLocks(partitions);
                    current.CopyTo(grown, 0);
                    Volatile.Write(ref _appendLocks, grown);
                }
            }

            return this;
        }

        private static object[] CreateLocks(int n)
        {
            var locks = new object[n];
            for (var i = 0; i < n; i++)
            {
                locks[i] = new object();
            }

            return locks;
        }
    }

    /// <summary>
    /// The delivery reports of one append. Its records entered one partition back to back, so their offsets are
    /// consecutive: the lowest and highest reported are all there is to keep, and no report needs to say which record
    /// it is (one handler for the whole call). Reports arrive on the producer's one polling thread.
    /// </summary>
    private sealed class AppendBatch(int count)
    {
        private readonly TaskCompletionSource<(long First, long Last, Error? Error)> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _first = long.MaxValue;
        private long _last = -1;
        private Error? _error;
        private int _pending = count;

        public Task<(long First, long Last, Error? Error)> Task => _done.Task;

        public void Report(DeliveryReport<byte[]?, byte[]?> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.CompareExchange(ref _error, report.Error, null);
            }
            else
            {
                var offset = report.Offset.Value;
                _first = Math.Min(_first, offset);
                _last = Math.Max(_last, offset);
            }

            Done(1);
        }

        /// <summary>The last <paramref name="n"/> records were not enqueued.</summary>
        public void Fail(int n, Error error)
        {
            Interlocked.CompareExchange(ref _error, error, null);
            Done(n);
        }

        // The interlocked add orders the fields' writes before whoever completes the batch reads them.
        private void Done(int n)
        {
            if (Interlocked.Add(ref _pending, -n) == 0)
            {
                _done.TrySetResult((_first, _last, _error));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = KafkaEventIds.Connected, Level = LogLevel.Information,
            Message = "Connected to Kafka at {Bootstrap}: {Brokers} brokers, {Topics} Sluice topics, librdkafka {Version}")]
        public static partial void Connected(ILogger logger, string bootstrap, int brokers, int topics, string version);

        [LoggerMessage(EventId = KafkaEventIds.MockClusterStarted, Level = LogLevel.Information,
            Message = "Started librdkafka's mock Kafka cluster in this process: {Brokers} brokers, bootstrap servers {Bootstrap}")]
        public static partial void MockClusterStarted(ILogger logger, int brokers, string bootstrap);

        [LoggerMessage(EventId = KafkaEventIds.TopicCreated, Level = LogLevel.Information, Message = "Created topic '{Topic}' (Kafka topic {KafkaTopic}) with {Partitions} partitions")]
        public static partial void TopicCreated(ILogger logger, string topic, string kafkaTopic, int partitions);

        [LoggerMessage(EventId = KafkaEventIds.TopicUpdated, Level = LogLevel.Information, Message = "Updated topic '{Topic}' ({Partitions} partitions)")]
        public static partial void TopicUpdated(ILogger logger, string topic, int partitions);

        [LoggerMessage(EventId = KafkaEventIds.TopicDeleted, Level = LogLevel.Information, Message = "Deleted topic '{Topic}'")]
        public static partial void TopicDeleted(ILogger logger, string topic);

        [LoggerMessage(EventId = KafkaEventIds.ClientError, Level = LogLevel.Warning, Message = "Kafka client error {Code}: {Reason}")]
        public static partial void ClientError(ILogger logger, string code, string reason);

        [LoggerMessage(EventId = KafkaEventIds.ClientLog, Level = LogLevel.Warning, Message = "librdkafka {Facility}: {Message}")]
        public static partial void ClientLog(ILogger logger, string facility, string message);

        [LoggerMessage(EventId = KafkaEventIds.ClusterNotAnswering, Level = LogLevel.Warning, Message = "Kafka at {Bootstrap} does not answer metadata yet: {Reason}")]
        public static partial void ClusterNotAnswering(ILogger logger, string bootstrap, string reason);

        [LoggerMessage(EventId = KafkaEventIds.WatermarkPollFailed, Level = LogLevel.Warning, Message = "Polling end offsets for waiting readers failed")]
        public static partial void WatermarkPollFailed(ILogger logger, Exception exception);
    }
}
