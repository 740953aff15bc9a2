using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Storage.Partitions;
using Sluice.Storage.Topics;

namespace Sluice.Storage;

/// <summary>
/// The embedded durable log: topics of partitioned, segmented, checksummed append-only files under
/// one data directory (Kafka's layout). Open with <see cref="OpenAsync"/>; all members are thread-safe.
/// </summary>
/// <remarks>
/// Layout: <c>{data}/topics/{tenant}/{namespace}/{name}/topic.json</c> and one directory per partition
/// (<c>0/</c>, <c>1/</c>, ...) holding <c>{baseOffset:D20}.log</c>, <c>.index</c> and <c>.timeindex</c>.
/// Topics are created in <c>{data}/tmp</c> and renamed into place, and deleted by a rename into
/// <c>{data}/trash</c> first, so a crash never leaves half a topic.
/// </remarks>
public sealed partial class EmbeddedLog : IMessageLog
{
    private const string TopicsFolder = "topics";
    private const string TrashFolder = "trash";
    private const string TmpFolder = "tmp";

    private readonly StorageOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<TopicName, TopicState> _topics = new();
    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private readonly string _topicsDirectory;
    private readonly string _trashDirectory;
    private readonly string _tmpDirectory;
    private readonly ITimer _maintenanceTimer;
    private readonly ITimer? _flushTimer;
    private readonly WriterScheduler _writers = new(WriterScheduler.DefaultThreadCount);
    private readonly TailCacheBudget? _tailBudget;
    private int _maintenanceRunning;
    private volatile bool _disposed;

    private EmbeddedLog(StorageOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _options = options;
        _tailBudget = options.TailCacheBytes > 0 ? new TailCacheBudget(options.TailCacheBytes) : null;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<EmbeddedLog>();
        _time = time;
        var root = Path.GetFullPath(options.DataDirectory);
        _topicsDirectory = Path.Combine(root, TopicsFolder);
        _trashDirectory = Path.Combine(root, TrashFolder);
        _tmpDirectory = Path.Combine(root, TmpFolder);
        _maintenanceTimer = time.CreateTimer(_ => _ = RunMaintenanceInBackgroundAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (options.FlushPolicy == FlushPolicy.Interval)
        {
            _flushTimer = time.CreateTimer(_ => FlushAll(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The options this log was opened with.</summary>
    public StorageOptions Options => _options;

    /// <summary>
    /// Opens the log in <see cref="StorageOptions.DataDirectory"/> (created when missing), recovering every
    /// partition: torn tails are truncated and damaged indexes rebuilt. Throws <see cref="ArgumentException"/>
    /// listing every bad option.
    /// </summary>
    public static Task<EmbeddedLog> OpenAsync(
        StorageOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Task.Run(() => Open(options, loggerFactory, timeProvider), ct);
    }

    /// <summary>The synchronous form of <see cref="OpenAsync"/>, for composition roots.</summary>
    internal static EmbeddedLog Open(StorageOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider)
    {
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid storage options: " + string.Join("; ", problems), nameof(options));
        }

        var log = new EmbeddedLog(options, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);
        try
        {
            log.Load();
        }
        catch
        {
            log.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        log._maintenanceTimer.Change(options.RetentionCheckInterval, options.RetentionCheckInterval);
        log._flushTimer?.Change(options.FlushInterval, options.FlushInterval);
        return log;
    }

    private void Load()
    {
        Directory.CreateDirectory(_topicsDirectory);
        foreach (var leftover in new[] { _trashDirectory, _tmpDirectory })
        {
            // Finishes deletes and abandons creations that a crash interrupted.
            if (Directory.Exists(leftover))
            {
                Directory.Delete(leftover, recursive: true);
            }

            Directory.CreateDirectory(leftover);
        }

        foreach (var tenantDir in Directory.EnumerateDirectories(_topicsDirectory))
        {
            foreach (var namespaceDir in Directory.EnumerateDirectories(tenantDir))
            {
                foreach (var topicDir in Directory.EnumerateDirectories(namespaceDir))
                {
                    LoadTopic(tenantDir, namespaceDir, topicDir);
                }
            }
        }

        Log.LogOpened(_logger, Path.GetFullPath(_options.DataDirectory), _topics.Count, _options.FlushPolicy);
    }

    private void LoadTopic(string tenantDir, string namespaceDir, string topicDir)
    {
        TopicName name;
        TopicSettings settings;
        try
        {
            name = new TopicName(Path.GetFileName(tenantDir), Path.GetFileName(namespaceDir), Path.GetFileName(topicDir));
            settings = TopicStore.Read(topicDir);
            if (settings.Validate() is { } problem)
            {
                throw new InvalidDataException(problem);
            }
        }
        catch (Exception ex) when (ex is InvalidNameException or IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            Log.TopicDirectorySkipped(_logger, topicDir, ex.Message);
            return;
        }

        var partitions = new PartitionLog[settings.Partitions];
        for (var p = 0; p < partitions.Length; p++)
        {
            partitions[p] = OpenPartition(name, p, topicDir);
        }

        _topics[name] = new TopicState(name, topicDir, settings, partitions);
    }

    // Partitions [from, to) of a topic; when one cannot be opened, the ones opened before it are closed again.
    private async Task<PartitionLog[]> OpenPartitionsAsync(TopicName topic, string topicDir, int from, int to)
    {
        var opened = new List<PartitionLog>(to - from);
        try
        {
            for (var p = from; p < to; p++)
            {
                opened.Add(OpenPartition(topic, p, topicDir));
            }

            return [.. opened];
        }
        catch
        {
            foreach (var partition in opened)
            {
                await partition.CloseAsync(new TopicNotFoundException(topic), deleteFiles: true).ConfigureAwait(false);
            }

            throw;
        }
    }

    private void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CleanupFailed(_logger, ex, directory);
        }
    }

    private PartitionLog OpenPartition(TopicName name, int partition, string topicDir)
        => PartitionLog.Open(name, partition, Path.Combine(topicDir, partition.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            _options, _loggerFactory.CreateLogger<PartitionLog>(), _time, _writers, _tailBudget);

    private string TopicDirectory(TopicName name) => Path.Combine(_topicsDirectory, name.Tenant, name.Namespace, name.Name);

    // ---------------------------------------------------------------- admin

    /// <inheritdoc />
    public async ValueTask<TopicInfo> CreateTopicAsync(TopicName topic, TopicSettings settings, CancellationToken cancellationToken = default)
    {
        ValidateSettings(settings);
        await _adminLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            if (_topics.ContainsKey(topic))
            {
                throw new TopicAlreadyExistsException(topic);
            }

            var final = TopicDirectory(topic);
            if (Directory.Exists(final))
            {
                // Not loaded at open (no readable topic.json): a leftover, not a topic. Move it aside.
                Directory.Move(final, Path.Combine(_trashDirectory, Guid.NewGuid().ToString("N")));
            }

            // Build the whole topic in tmp/, then one rename makes it appear.
            var staging = Path.Combine(_tmpDirectory, Guid.NewGuid().ToString("N"));
            try
            {
                Directory.CreateDirectory(staging);
                for (var p = 0; p < settings.Partitions; p++)
                {
                    Directory.CreateDirectory(Path.Combine(staging, p.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                }

                TopicStore.Write(staging, settings);
                var parent = Path.GetDirectoryName(final)!;
                Directory.CreateDirectory(parent);
                Directory.Move(staging, final);
                DirectorySync.Flush(parent);
            }
            catch (IOException ex)
            {
                DeleteQuietly(staging);
                throw PartitionLog.IsNoSpace(ex) ? new StorageFullException(topic, null, ex) : ex;
            }

            PartitionLog[] partitions;
            try
            {
                partitions = await OpenPartitionsAsync(topic, final, 0, settings.Partitions).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                // No space for a partition's first files: the topic is not created after all.
                var trash = Path.Combine(_trashDirectory, Guid.NewGuid().ToString("N"));
                Directory.Move(final, trash);
                DirectorySync.Flush(Path.GetDirectoryName(final)!);
                DeleteQuietly(trash);
                throw PartitionLog.IsNoSpace(ex) ? new StorageFullException(topic, null, ex) : ex;
            }

            var state = new TopicState(topic, final, settings, partitions);
            _topics[topic] = state;
            Log.TopicCreated(_logger, topic.ToString(), settings.Partitions);
            return state.Describe();
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
            var current = state.Partitions;
            if (settings.Partitions < current.Length)
            {
                throw new InvalidTopicSettingsException(
                    $"partition count may only grow: topic '{topic}' has {current.Length} partitions, asked for {settings.Partitions}");
            }

            var grown = new PartitionLog[settings.Partitions];
            current.CopyTo(grown, 0);
            var added = Array.Empty<PartitionLog>();
            try
            {
                added = await OpenPartitionsAsync(topic, state.Directory, current.Length, grown.Length).ConfigureAwait(false);
                TopicStore.Write(state.Directory, settings);
            }
            catch (IOException ex)
            {
                // Nothing changes: the new partitions go away again (their directories are ignored without topic.json's count).
                foreach (var partition in added)
                {
                    await partition.CloseAsync(new TopicNotFoundException(topic), deleteFiles: true).ConfigureAwait(false);
                    DeleteQuietly(partition.Directory);
                }

                throw PartitionLog.IsNoSpace(ex) ? new StorageFullException(topic, null, ex) : ex;
            }

            added.CopyTo(grown, current.Length);
            state.Settings = settings;
            state.Partitions = grown;
            Log.TopicUpdated(_logger, topic.ToString(), settings.Partitions);
            return state.Describe();
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
            ThrowIfDisposed();
            if (!_topics.TryGetValue(topic, out var state))
            {
                return false;
            }

            // The rename decides: after it the topic is gone (trash is emptied at open, so a crash finishes the delete);
            // when it fails (no space for the directory entry, say) nothing has changed and the topic keeps working.
            // Open files move with it; a rename needs no free space, so a full disk can still be cleared by deletes.
            var trash = Path.Combine(_trashDirectory, Guid.NewGuid().ToString("N"));
            try
            {
                Directory.Move(state.Directory, trash);
            }
            catch (IOException ex) when (PartitionLog.IsNoSpace(ex))
            {
                throw new StorageFullException(topic, null, ex);
            }

            _topics.TryRemove(topic, out _);
            try
            {
                DirectorySync.Flush(Path.GetDirectoryName(state.Directory)!);
            }
            catch (IOException ex)
            {
                Log.CleanupFailed(_logger, ex, state.Directory);
            }

            var gone = new TopicNotFoundException(topic);
            foreach (var partition in state.Partitions)
            {
                await partition.CloseAsync(gone, deleteFiles: true).ConfigureAwait(false);
            }

            DeleteQuietly(trash);
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
        ThrowIfDisposed();
        var names = _topics.Keys.ToList();
        names.Sort((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
        return ValueTask.FromResult<IReadOnlyList<TopicName>>(names);
    }

    /// <inheritdoc />
    public ValueTask<int?> GetPartitionCountAsync(TopicName topic, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_topics.TryGetValue(topic, out var state) ? state.Partitions.Length : (int?)null);

    public ValueTask<TopicInfo?> DescribeTopicAsync(TopicName topic, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return ValueTask.FromResult(_topics.TryGetValue(topic, out var state) ? state.Describe() : null);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LogProblem>> GetProblemsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var problems = new List<LogProblem>();
        foreach (var state in _topics.Values)
        {
            foreach (var partition in state.Partitions)
            {
                partition.AddProblems(problems);
            }
        }

        problems.Sort((a, b) => string.CompareOrdinal(a.Topic.ToString(), b.Topic.ToString()) is var c and not 0 ? c : a.Partition.CompareTo(b.Partition));
        return ValueTask.FromResult<IReadOnlyList<LogProblem>>(problems);
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
    public ValueTask<AppendResult> AppendAsync(TopicName topic, int partition, IReadOnlyList<RecordToAppend> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        try
        {
            var log = GetPartition(topic, partition);
            if (records.Count == 0)
            {
                return ValueTask.FromResult(new AppendResult(log.EndOffset, 0, _time.GetUtcNow()));
            }

            return log.AppendAsync(records, cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<AppendResult>(ex);
        }
    }

    /// <inheritdoc />
    public ValueTask<ReadResult> ReadAsync(TopicName topic, int partition, long offset, int maxCount, int maxBytes, CancellationToken cancellationToken = default)
    {
        try
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(GetPartition(topic, partition).Read(offset, maxCount, maxBytes));
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<ReadResult>(ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteRecordsBeforeAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
        => await GetPartition(topic, partition).DeleteSegmentsBelowAsync(offset, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask<long> FindOffsetAsync(TopicName topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        try
        {
            return ValueTask.FromResult(GetPartition(topic, partition).FindOffset(timestamp));
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<long>(ex);
        }
    }

    /// <inheritdoc />
    public ValueTask WaitForDataAsync(TopicName topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        try
        {
            return GetPartition(topic, partition).WaitForDataAsync(offset, cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    private TopicState GetTopic(TopicName topic)
    {
        ThrowIfDisposed();
        return _topics.TryGetValue(topic, out var state) ? state : throw new TopicNotFoundException(topic);
    }

    private PartitionLog GetPartition(TopicName topic, int partition)
    {
        var partitions = GetTopic(topic).Partitions;
        if ((uint)partition >= (uint)partitions.Length)
        {
            throw new PartitionNotFoundException(topic, partition, partitions.Length);
        }

        return partitions[partition];
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    // ---------------------------------------------------------------- background work

    /// <summary>Runs retention and compaction on every partition now (the timer does it every <see cref="StorageOptions.RetentionCheckInterval"/>).</summary>
    internal async Task<int> RunMaintenanceAsync(CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        foreach (var state in _topics.Values)
        {
            foreach (var partition in state.Partitions)
            {
                deleted += await partition.RunMaintenanceAsync(state.Settings, cancellationToken).ConfigureAwait(false);
            }
        }

        return deleted;
    }

    private async Task RunMaintenanceInBackgroundAsync()
    {
        if (Interlocked.Exchange(ref _maintenanceRunning, 1) == 1 || _disposed)
        {
            return; // the previous pass is still running
        }

        try
        {
            await RunMaintenanceAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.MaintenanceFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _maintenanceRunning, 0);
        }
    }

    private void FlushAll()
    {
        foreach (var state in _topics.Values)
        {
            foreach (var partition in state.Partitions)
            {
                partition.FlushIfDirty();
            }
        }
    }

    /// <summary>Stops background work, completes pending appends, and closes every segment cleanly.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _maintenanceTimer.Dispose();
        _flushTimer?.Dispose();
        await _adminLock.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var state in _topics.Values)
            {
                foreach (var partition in state.Partitions)
                {
                    await partition.DisposeAsync().ConfigureAwait(false);
                }
            }

            _topics.Clear();
        }
        finally
        {
            _adminLock.Release();
            _writers.Dispose();
        }
    }

    private sealed class TopicState(TopicName name, string directory, TopicSettings settings, PartitionLog[] partitions)
    {
        public TopicName Name { get; } = name;

        public string Directory { get; } = directory;

        public TopicSettings Settings { get; set; } = settings;

        public PartitionLog[] Partitions { get; set; } = partitions;

        public TopicInfo Describe() => new(Name, Settings, Array.ConvertAll(Partitions, p => p.Describe()));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = StorageEventIds.LogOpened, Level = LogLevel.Information,
            Message = "Opened the embedded log in '{Directory}': {Topics} topics, flush policy {FlushPolicy}")]
        public static partial void LogOpened(ILogger logger, string directory, int topics, FlushPolicy flushPolicy);

        [LoggerMessage(EventId = StorageEventIds.TopicCreated, Level = LogLevel.Information, Message = "Created topic '{Topic}' with {Partitions} partitions")]
        public static partial void TopicCreated(ILogger logger, string topic, int partitions);

        [LoggerMessage(EventId = StorageEventIds.TopicDeleted, Level = LogLevel.Information, Message = "Deleted topic '{Topic}'")]
        public static partial void TopicDeleted(ILogger logger, string topic);

        [LoggerMessage(EventId = StorageEventIds.TopicUpdated, Level = LogLevel.Information, Message = "Updated topic '{Topic}' ({Partitions} partitions)")]
        public static partial void TopicUpdated(ILogger logger, string topic, int partitions);

        [LoggerMessage(EventId = StorageEventIds.TopicDirectorySkipped, Level = LogLevel.Warning, Message = "Skipped '{Directory}', not a readable topic: {Reason}")]
        public static partial void TopicDirectorySkipped(ILogger logger, string directory, string reason);

        [LoggerMessage(EventId = StorageEventIds.CleanupFailed, Level = LogLevel.Warning, Message = "Could not delete or sync '{Directory}'; it is finished at the next open")]
        public static partial void CleanupFailed(ILogger logger, Exception exception, string directory);

        [LoggerMessage(EventId = StorageEventIds.MaintenanceFailed, Level = LogLevel.Error, Message = "Retention or compaction pass failed")]
        public static partial void MaintenanceFailed(ILogger logger, Exception exception);
    }
}
