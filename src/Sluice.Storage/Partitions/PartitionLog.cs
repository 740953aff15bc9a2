using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Storage.Format;

namespace Sluice.Storage.Partitions;

/// <summary>
/// One partition: an ordered list of segments, a single writer doing group commit, and readers
/// that see only what is durable under the flush policy.
/// <code>
///  AppendAsync (many)          writer loop (one per partition)                 readers
///  encode + validate  --&gt;  channel --&gt; drain all pending, assign offsets,
///  (no lock)                   one gather write, one fsync (Always),
///                              publish end offset  --------------------------&gt;  ReadAsync / WaitForDataAsync
///                              complete every waiter, wake tail readers
/// </code>
/// A full disk fails only the appends of the group that met it (<see cref="StorageFullException"/>); the writer cuts
/// what the failed write left and keeps going, so appends succeed again as soon as space is freed. Every offset handed
/// out stays below the <see cref="HighWaterMark"/>, which recovery resumes from when it had to cut a damaged tail.
/// </summary>
internal sealed partial class PartitionLog : IAsyncDisposable
{
    // Bounded so a burst of appenders waits instead of growing memory without limit.
    private const int QueueCapacity = 4096;

    // One write call carries at most this much, so the fsync that follows is not delayed without bound.
    private const long MaxGroupBytes = 16L * 1024 * 1024;

    // A tail cache nobody read for this long is dropped at the next maintenance pass.
    private const long TailCacheIdleMs = 30_000;

    // Offsets reserved ahead in the high-water mark at a time: one small msync per 64 Ki offsets keeps it off the
    // append path (the group commit's own fsync is per group), and a recovery after a machine crash skips at most this many.
    private const long ReserveAhead = 64 * 1024;

    // Under FlushPolicy.Always, zeros written ahead of the active segment's data, so most group commits sync into blocks
    // the file already has (Segment.ReserveAhead; design note 0032). At most this much disk per partition written to.
    private const int ReserveAheadBytes = 256 * 1024;

    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<PendingAppend> _queue;
    private readonly Task _writer;
    private readonly Lock _segmentsLock = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _maintenanceLock = new(1, 1);

    // Reads (fully synchronous, so a thread-affine lock is fine) hold it shared; compaction swapping a
    // segment file and retention deleting one hold it exclusively, so a read never mixes an old index
    // with a new file.
    private readonly ReaderWriterLockSlim _swapLock = new(LockRecursionPolicy.NoRecursion);

    private Segment[] _segments;
    private long _nextOffset;     // writer: the next offset to assign
    private long _endOffset;      // readers: the end of the durable (visible) log
    private bool _dirty;          // written but not yet flushed (Interval policy)
    private readonly DataWaiters _readers;
    private Exception? _closedError;
    private Exception? _readError; // set once the partition is closed or deleted: readers stop too
    private readonly TailCache? _tail; // null when the options turn the tail cache off
    private readonly BatchCache? _batches; // null when the read caches have no budget
    private readonly HighWaterMark _highWaterMark;
    private readonly CorruptRegistry _corrupt;
    private readonly Lock _damageGate = new();
    private long _fullSinceMs; // Unix ms since the appends fail for lack of space; 0 while they do not

    private PartitionLog(TopicName topic, int partition, string directory, StorageOptions options, ILogger logger, TimeProvider time, Segment[] segments, WriterScheduler writers, TailCacheBudget? tailBudget, HighWaterMark highWaterMark, CorruptRegistry corrupt)
    {
        _highWaterMark = highWaterMark;
        _readers = new DataWaiters(() => EndOffset);
        _corrupt = corrupt;
        _tail = tailBudget is null || options.TailCacheRecords == 0 ? null : new TailCache(tailBudget, options.TailCacheRecords);
        _batches = tailBudget is null ? null : new BatchCache(tailBudget);
        Topic = topic;
        Partition = partition;
        Directory = directory;
        _options = options;
        _logger = logger;
        _time = time;
        _segments = segments;
        _nextOffset = segments[^1].NextOffset;
        _endOffset = _nextOffset;
        _queue = Channel.CreateBounded<PendingAppend>(new BoundedChannelOptions(QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = writers.Start(WriteLoopAsync);
    }

    public TopicName Topic { get; }

    public int Partition { get; }

    public string Directory { get; }

    public long EndOffset => Volatile.Read(ref _endOffset);

    public long StartOffset => Volatile.Read(ref _segments)[0].BaseOffset;

    /// <summary>
    /// Opens (or creates) the partition directory: recovers the active segment (damaged batches skipped, a torn tail cut),
    /// and when records that were handed out are gone, resumes appends above every offset ever handed out.
    /// </summary>
    public static PartitionLog Open(TopicName topic, int partition, string directory, StorageOptions options, ILogger logger, TimeProvider time, WriterScheduler writers, TailCacheBudget? tailBudget = null)
    {
        var started = Stopwatch.GetTimestamp();
        System.IO.Directory.CreateDirectory(directory);
        foreach (var pattern in new[] { "*.cleaned", "*.tmp" })
        {
            foreach (var leftover in System.IO.Directory.EnumerateFiles(directory, pattern))
            {
                File.Delete(leftover); // a compaction or a file write that did not finish: the originals are intact
            }
        }

        var bases = new List<long>();
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*.log"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (name.Length == 20 && long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var b))
            {
                bases.Add(b);
            }
        }

        bases.Sort();
        var now = time.GetUtcNow();
        var segments = new Segment[Math.Max(1, bases.Count)];
        HighWaterMark? highWaterMark = null;
        try
        {
            if (bases.Count == 0)
            {
                segments[0] = Segment.Create(directory, 0, now, logger, options.IndexIntervalBytes);
                DirectorySync.Flush(directory);
            }
            else
            {
                for (var i = 0; i < bases.Count - 1; i++)
                {
                    segments[i] = Segment.OpenClosed(directory, bases[i], now, logger, options.IndexIntervalBytes);
                }

                segments[^1] = Segment.OpenActive(directory, bases[^1], now, logger, options.IndexIntervalBytes, options.FlushPolicy == FlushPolicy.Always);
                for (var i = 0; i < segments.Length - 1; i++)
                {
                    segments[i].CloseDamageAt(segments[i + 1].BaseOffset);
                }
            }

            highWaterMark = HighWaterMark.Open(directory, out var previous);
            var corrupt = CorruptRegistry.Load(directory, logger);
            var lost = Resume(topic, partition, directory, options, logger, now, ref segments, previous, bases.Count > 0);
            highWaterMark.SetEnd(segments[^1].NextOffset);

            var log = new PartitionLog(topic, partition, directory, options, logger, time, segments, writers, tailBudget, highWaterMark, corrupt);
            foreach (var segment in segments)
            {
                foreach (var span in segment.Damage)
                {
                    log.Register(segment, span);
                }
            }

            if (lost is not null)
            {
                log.Register(lost, segments[^2].LogPath, segments[^2].Size);
            }

            Log.PartitionOpened(logger, topic.ToString(), partition, segments.Length, log.StartOffset, log.EndOffset,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return log;
        }
        catch
        {
            highWaterMark?.Dispose();
            segments[^1]?.Close(flush: false);
            throw;
        }
    }

    // The active segment's recovered end against what the high-water mark says was handed out. When records that were
    // handed out are gone (a cut tail, a file cut short), appends resume above them, in a new segment whose name makes
    // the gap durable. Returns the lost range, if any is known.
    private static CorruptRange? Resume(
        TopicName topic, int partition, string directory, StorageOptions options, ILogger logger, DateTimeOffset now,
        ref Segment[] segments, HighWaterMark.Previous previous, bool existed)
    {
        var active = segments[^1];
        var recovered = active.NextOffset;
        if (!previous.Exists)
        {
            if (existed && active.TailCut is not null)
            {
                // A data directory from before the high-water mark: there is nothing to resume above.
                Log.HighWaterMarkMissing(logger, topic.ToString(), partition, recovered);
            }

            return null;
        }

        CorruptRange? lost = null;
        var resume = recovered;
        if (previous.End is { } end && end > recovered)
        {
            var why = active.TailCut is { } cut
                ? $"the tail of segment {Segment.FileStem(active.BaseOffset)} was cut at byte {cut.Position} on open ({cut.Reason})"
                : $"segment {Segment.FileStem(active.BaseOffset)} ends before the last offset written";
            lost = new CorruptRange(recovered, end, why, now);
            resume = end;
        }

        if (!previous.ExactEnd && (active.TailCut is not null || lost is not null) && previous.Reserved is { } reserved)
        {
            // The stored end may predate a machine crash: only the synced reservation is sure to cover every offset handed out.
            resume = Math.Max(resume, reserved);
        }

        if (resume == recovered)
        {
            return lost;
        }

        Log.OffsetsResumedAfterLoss(logger, topic.ToString(), partition, recovered, resume);
        active.Seal();
        var fresh = Segment.Create(directory, resume, now, logger, options.IndexIntervalBytes);
        try
        {
            DirectorySync.Flush(directory);
        }
        catch
        {
            fresh.DeleteFiles();
            throw;
        }

        segments = [.. segments, fresh];
        return lost;
    }

    // ---------------------------------------------------------------- append

    public ValueTask<AppendResult> AppendAsync(IReadOnlyList<RecordToAppend> records, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _closedError) is { } closed)
        {
            return ValueTask.FromException<AppendResult>(closed);
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = ArrayPool<RecordEntry>.Shared.Rent(records.Count);
        EncodedBatch batch;
        try
        {
            for (var i = 0; i < records.Count; i++)
            {
                var r = records[i];
                entries[i] = new RecordEntry(i, r.Timestamp?.ToUnixTimeMilliseconds() ?? now, r.Key, r.Value, r.Headers);
            }

            // Validates every record before anything is queued: a bad batch writes nothing.
            batch = RecordBatch.Encode(entries.AsSpan(0, records.Count), 0, _options.MaxRecordBytes);
        }
        finally
        {
            ArrayPool<RecordEntry>.Shared.Return(entries, clearArray: true);
        }

        var pending = new PendingAppend(batch);
        if (!_queue.Writer.TryWrite(pending))
        {
            return SlowEnqueueAsync(pending, cancellationToken);
        }

        return new ValueTask<AppendResult>(pending.Completion.Task);
    }

    private async ValueTask<AppendResult> SlowEnqueueAsync(PendingAppend pending, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            ArrayPool<byte>.Shared.Return(pending.Batch.Buffer);
            throw _closedError ?? new ObjectDisposedException(nameof(PartitionLog));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(pending.Batch.Buffer);
            throw;
        }

        return await pending.Completion.Task.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        var group = new List<PendingAppend>();
        var reader = _queue.Reader;
        // No ConfigureAwait(false) in this loop: it must keep running on the WriterScheduler's threads.
        while (await reader.WaitToReadAsync())
        {
            long bytes = 0;
            while (bytes < MaxGroupBytes && reader.TryRead(out var item))
            {
                group.Add(item);
                bytes += item.Batch.Length;
            }

            await _writeLock.WaitAsync();
            try
            {
                WriteGroup(group);
            }
            catch (Exception ex)
            {
                // The file may now hold a partial write at an unknown position: stop taking appends.
                // Reopening the log truncates the partial write.
                Log.WriteFailed(_logger, ex, Topic.ToString(), Partition);
                var error = new IOException($"partition {Partition} of '{Topic}' stopped after a write failure: {ex.Message}", ex);
                Volatile.Write(ref _closedError, error);

                // Completed without the error: closing the partition later (a delete, a shutdown) awaits this loop.
                _queue.Writer.TryComplete();
                foreach (var p in group)
                {
                    p.Completion.TrySetException(error);
                }

                while (reader.TryRead(out var rest))
                {
                    ArrayPool<byte>.Shared.Return(rest.Batch.Buffer);
                    rest.Completion.TrySetException(error);
                }
            }
            finally
            {
                _writeLock.Release();
                foreach (var p in group)
                {
                    ArrayPool<byte>.Shared.Return(p.Batch.Buffer);
                }

                group.Clear();
            }
        }
    }

    // Called with _writeLock held. Assigns offsets, writes, flushes per policy, publishes, completes. The part of the group
    // for one segment is committed (and its appends completed) before the next segment is started, so a failure fails
    // only the appends not committed yet. A full disk is not fatal: see OnNoSpace.
    private void WriteGroup(List<PendingAppend> group)
    {
        var committed = 0;
        try
        {
            var active = _segments[^1];
            if (active.Size > 0 && _time.GetUtcNow() - active.Created >= _options.SegmentAge)
            {
                active = Roll(active, "age");
            }

            var buffers = new List<ReadOnlyMemory<byte>>(group.Count);
            var headers = new List<BatchHeader>(group.Count);
            long pendingBytes = 0;
            for (var i = 0; i < group.Count; i++)
            {
                var p = group[i];
                var length = p.Batch.Length;
                if (active.Size + pendingBytes > 0 && active.Size + pendingBytes + length > _options.SegmentBytes)
                {
                    if (buffers.Count > 0)
                    {
                        Commit(active, buffers, headers, group, committed, i);
                        committed = i;
                        buffers.Clear();
                        headers.Clear();
                        pendingBytes = 0;
                    }

                    active = Roll(active, "size");
                }

                var baseOffset = _nextOffset;
                var next = baseOffset + p.Batch.LastOffsetDelta + 1;
                if (next > _highWaterMark.Reserved)
                {
                    // Durable before the offsets are used: recovery never resumes below an offset handed out.
                    _highWaterMark.Reserve(next + ReserveAhead);
                }

                RecordBatch.SetBaseOffset(p.Batch.Buffer, baseOffset, p.Batch.BodyCrc);
                p.BaseOffset = baseOffset;
                _nextOffset = next;
                RecordBatch.TryReadHeader(p.Batch.Buffer.AsSpan(0, length), out var header);
                buffers.Add(p.Batch.Buffer.AsMemory(0, length));
                headers.Add(header);
                pendingBytes += length;
            }

            if (buffers.Count > 0)
            {
                Commit(active, buffers, headers, group, committed, group.Count);
            }
        }
        catch (NoSpaceException ex)
        {
            OnNoSpace(group, committed, ex.InnerException!);
            return;
        }

        if (Volatile.Read(ref _fullSinceMs) != 0)
        {
            Volatile.Write(ref _fullSinceMs, 0);
            Log.StorageRecovered(_logger, Topic.ToString(), Partition);
        }
    }

    // Writes group[from..to) into the active segment and makes it durable, visible and acknowledged.
    private void Commit(Segment active, List<ReadOnlyMemory<byte>> buffers, List<BatchHeader> headers, List<PendingAppend> group, int from, int to)
    {
        try
        {
            active.Append(buffers, headers, _options.FlushPolicy == FlushPolicy.Always ? ReserveAheadBytes : 0, _options.SegmentBytes);
        }
        catch (IOException ex) when (IsNoSpace(ex))
        {
            throw new NoSpaceException(ex);
        }

        if (_options.FlushPolicy == FlushPolicy.Always)
        {
            active.Flush();
            active.ReleaseFlushedPages(_options.PageCacheWindowBytes);
        }
        else
        {
            _dirty = true;
        }

        long bytes = 0, records = 0;
        for (var i = from; i < to; i++)
        {
            bytes += group[i].Batch.Length;
            records += group[i].Batch.Count;
        }

        StorageMetrics.OnGroupCommit(to - from, records, bytes, _options.FlushPolicy == FlushPolicy.Always);
        active.Publish();
        var end = active.NextOffset;
        _highWaterMark.SetEnd(end);
        PublishEnd(end);
        for (var i = from; i < to; i++)
        {
            var p = group[i];
            p.Completion.TrySetResult(new AppendResult(p.BaseOffset, p.Batch.Count,
                DateTimeOffset.FromUnixTimeMilliseconds(p.Batch.MaxTimestamp)));
        }
    }

    // No space for a write or a new segment: nothing from `committed` on was written for good, acknowledged or made
    // visible. Cut what a partial write left, take back the offsets given to those appends (the next group gets them:
    // nothing was handed out), and fail them. The writer keeps going: the next group tries again.
    private void OnNoSpace(List<PendingAppend> group, int committed, Exception cause)
    {
        var active = _segments[^1];
        active.CutToTracked();
        _nextOffset = active.NextOffset;
        // Marked full before the appends fail: a client answered 507 that asks /readyz at once finds the partition listed.
        if (Volatile.Read(ref _fullSinceMs) == 0)
        {
            Volatile.Write(ref _fullSinceMs, Math.Max(1, _time.GetUtcNow().ToUnixTimeMilliseconds()));
            Log.StorageFull(_logger, Topic.ToString(), Partition, cause.Message);
        }

        StorageMetrics.OnFull(Topic, Partition, group.Count - committed);
        var error = new StorageFullException(Topic, Partition, cause);
        for (var i = committed; i < group.Count; i++)
        {
            group[i].Completion.TrySetException(error);
        }
    }

    /// <summary>ENOSPC or EDQUOT on Unix (the errno is the HResult), a full disk on Windows.</summary>
    internal static bool IsNoSpace(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is IOException { HResult: 28 or 122 or unchecked((int)0x80070070) or unchecked((int)0x80070027) })
            {
                return true;
            }
        }

        return false;
    }

    private void PublishEnd(long end)
    {
        Volatile.Write(ref _endOffset, end);
        _readers.Publish();
    }

    // Starts a new segment at the next offset and seals the active one (its bytes and indexes forced to disk). The new
    // file comes first: without space for it, nothing has changed.
    private Segment Roll(Segment active, string reason)
    {
        // A closed segment must end where its data ends: the reserved zeros go before the next segment's name can
        // survive a crash (recovery cuts zeros only from the last segment).
        active.DropReserve();
        Segment next;
        try
        {
            next = Segment.Create(Directory, _nextOffset, _time.GetUtcNow(), _logger, _options.IndexIntervalBytes);
        }
        catch (IOException ex) when (IsNoSpace(ex))
        {
            throw new NoSpaceException(ex);
        }

        try
        {
            DirectorySync.Flush(Directory); // the new file name must survive a crash before data in it is acknowledged
            active.Seal();
        }
        catch
        {
            next.DeleteFiles();
            throw;
        }

        lock (_segmentsLock)
        {
            var segments = _segments;
            var grown = new Segment[segments.Length + 1];
            segments.CopyTo(grown, 0);
            grown[^1] = next;
            Volatile.Write(ref _segments, grown);
        }

        Log.SegmentRolled(_logger, Topic.ToString(), Partition, next.BaseOffset, reason);
        return next;
    }

    /// <summary>Forces written bytes to disk when the Interval policy left some unflushed.</summary>
    public void FlushIfDirty()
    {
        if (!_writeLock.Wait(0))
        {
            return; // the writer is busy; the next tick flushes
        }

        try
        {
            if (_dirty && _closedError is null && _readError is null)
            {
                _segments[^1].Flush();
                _segments[^1].ReleaseFlushedPages(_options.PageCacheWindowBytes);
                _dirty = false;
                StorageMetrics.OnFsync();
            }
        }
        catch (Exception ex)
        {
            Log.FlushFailed(_logger, ex, Topic.ToString(), Partition);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // ---------------------------------------------------------------- read
    // ---------------------------------------------------------------- shutdown

    /// <summary>
    /// Stops the writer; pending appends and tail readers fail with <paramref name="reason"/>. Never throws: a partition
    /// being deleted or shut down on a failing disk still lets go of its files (failures are logged).
    /// </summary>
    public async Task CloseAsync(Exception reason, bool deleteFiles)
    {
        Volatile.Write(ref _closedError, reason);
        Volatile.Write(ref _readError, reason);
        _tail?.Close();
        _batches?.Close();
        _queue.Writer.TryComplete();
        try
        {
            await _writer.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.CloseFailed(_logger, ex, Topic.ToString(), Partition);
        }

        _readers.Close(ReadClosedError);

        // Wait for a running retention or compaction pass and an interval flush; later ones see _readError and stop.
        await _maintenanceLock.WaitAsync().ConfigureAwait(false);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var s in _segments)
            {
                try
                {
                    // A clean shutdown leaves every segment sealed (flushed, indexes complete) whatever the policy.
                    s.Close(flush: !deleteFiles);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Log.CloseFailed(_logger, ex, Topic.ToString(), Partition);
                }
            }

            _highWaterMark.Dispose();
        }
        finally
        {
            _writeLock.Release();
            _maintenanceLock.Release();
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync(new ObjectDisposedException("EmbeddedLog"), deleteFiles: false));

    /// <summary>No space for a write or a new segment, found where nothing of it has been committed yet.</summary>
    private sealed class NoSpaceException(IOException cause) : IOException(cause.Message, cause);

    private sealed class PendingAppend(EncodedBatch batch)
    {
        public EncodedBatch Batch { get; } = batch;

        public long BaseOffset { get; set; }

        public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = StorageEventIds.PartitionOpened, Level = LogLevel.Debug,
            Message = "Opened partition {Partition} of '{Topic}': {Segments} segments, offsets {Start}..{End}, in {Elapsed:F1} ms")]
        public static partial void PartitionOpened(ILogger logger, string topic, int partition, int segments, long start, long end, double elapsed);

        [LoggerMessage(EventId = StorageEventIds.SegmentRolled, Level = LogLevel.Debug,
            Message = "Rolled partition {Partition} of '{Topic}' to a new segment at offset {BaseOffset} ({Reason})")]
        public static partial void SegmentRolled(ILogger logger, string topic, int partition, long baseOffset, string reason);

        [LoggerMessage(EventId = StorageEventIds.SegmentTrimmed, Level = LogLevel.Information,
            Message = "Deleted '{File}' of partition {Partition} of '{Topic}': its records lie below offset {Below}, which its user no longer needs; it now starts at offset {StartOffset}")]
        public static partial void SegmentTrimmed(ILogger logger, string topic, int partition, string file, long below, long startOffset);

        [LoggerMessage(EventId = StorageEventIds.SegmentDeleted, Level = LogLevel.Information,
            Message = "Retention deleted '{File}' of partition {Partition} of '{Topic}'; it now starts at offset {StartOffset}")]
        public static partial void SegmentDeleted(ILogger logger, string topic, int partition, string file, long startOffset);

        [LoggerMessage(EventId = StorageEventIds.SegmentCompacted, Level = LogLevel.Information,
            Message = "Compacted '{File}' of partition {Partition} of '{Topic}': kept {Kept} records, removed {Removed}")]
        public static partial void SegmentCompacted(ILogger logger, string topic, int partition, string file, int kept, int removed);

        [LoggerMessage(EventId = StorageEventIds.WriteFailed, Level = LogLevel.Error,
            Message = "Write to partition {Partition} of '{Topic}' failed; the partition takes no more appends until reopened")]
        public static partial void WriteFailed(ILogger logger, Exception exception, string topic, int partition);

        [LoggerMessage(EventId = StorageEventIds.FlushFailed, Level = LogLevel.Error,
            Message = "Interval flush of partition {Partition} of '{Topic}' failed")]
        public static partial void FlushFailed(ILogger logger, Exception exception, string topic, int partition);

        [LoggerMessage(EventId = StorageEventIds.OffsetsResumedAfterLoss, Level = LogLevel.Warning,
            Message = "Partition {Partition} of '{Topic}' recovered to offset {Recovered}, below offsets already handed out; appends resume at {Resume} so none is handed out twice")]
        public static partial void OffsetsResumedAfterLoss(ILogger logger, string topic, int partition, long recovered, long resume);

        [LoggerMessage(EventId = StorageEventIds.HighWaterMarkMissing, Level = LogLevel.Warning,
            Message = "Partition {Partition} of '{Topic}' has no high-water mark (written since this version); appends continue at {Recovered}, the recovered end")]
        public static partial void HighWaterMarkMissing(ILogger logger, string topic, int partition, long recovered);

        [LoggerMessage(EventId = StorageEventIds.StorageFull, Level = LogLevel.Error,
            Message = "Partition {Partition} of '{Topic}' has no space left ({Reason}); its appends fail until space is freed")]
        public static partial void StorageFull(ILogger logger, string topic, int partition, string reason);

        [LoggerMessage(EventId = StorageEventIds.StorageRecovered, Level = LogLevel.Information,
            Message = "Partition {Partition} of '{Topic}' takes appends again: space was freed")]
        public static partial void StorageRecovered(ILogger logger, string topic, int partition);

        [LoggerMessage(EventId = StorageEventIds.CloseFailed, Level = LogLevel.Warning,
            Message = "Closing partition {Partition} of '{Topic}' failed; it is closed anyway")]
        public static partial void CloseFailed(ILogger logger, Exception exception, string topic, int partition);

        [LoggerMessage(EventId = StorageEventIds.CorruptRangeFound, Level = LogLevel.Error,
            Message = "Partition {Partition} of '{Topic}': offsets {From}..{Last} are damaged and not served ('{File}' at byte {Position}: {Reason})")]
        public static partial void CorruptRangeFound(ILogger logger, string topic, int partition, long from, long last, string file, long position, string reason);

        [LoggerMessage(EventId = StorageEventIds.CompactionSkipped, Level = LogLevel.Warning,
            Message = "Compaction left '{File}' of partition {Partition} of '{Topic}' as it is: it holds damaged records ({Reason})")]
        public static partial void CompactionSkipped(ILogger logger, string topic, int partition, string file, string reason);
    }
}
