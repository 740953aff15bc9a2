using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
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
/// </summary>
internal sealed partial class PartitionLog : IAsyncDisposable
{
    // Bounded so a burst of appenders waits instead of growing memory without limit.
    private const int QueueCapacity = 4096;

    // One write call carries at most this much, so the fsync that follows is not delayed without bound.
    private const long MaxGroupBytes = 16L * 1024 * 1024;

    // A tail cache nobody read for this long is dropped at the next maintenance pass.
    private const long TailCacheIdleMs = 30_000;

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
    private TaskCompletionSource _dataSignal = NewSignal();
    private Exception? _closedError;
    private Exception? _readError; // set once the partition is closed or deleted: readers stop too
    private readonly TailCache? _tail; // null when the options turn the tail cache off

    private PartitionLog(TopicName topic, int partition, string directory, StorageOptions options, ILogger logger, TimeProvider time, Segment[] segments, WriterScheduler writers, TailCacheBudget? tailBudget)
    {
        _tail = tailBudget is null || options.TailCacheRecords == 0 ? null : new TailCache(tailBudget, options.TailCacheRecords);
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

    /// <summary>Opens (or creates) the partition directory, recovering the active segment's tail.</summary>
    public static PartitionLog Open(TopicName topic, int partition, string directory, StorageOptions options, ILogger logger, TimeProvider time, WriterScheduler writers, TailCacheBudget? tailBudget = null)
    {
        var started = Stopwatch.GetTimestamp();
        System.IO.Directory.CreateDirectory(directory);
        foreach (var leftover in System.IO.Directory.EnumerateFiles(directory, "*.cleaned"))
        {
            File.Delete(leftover); // a compaction that did not finish: the original files are intact
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

            segments[^1] = Segment.OpenActive(directory, bases[^1], now, logger, options.IndexIntervalBytes);
        }

        var log = new PartitionLog(topic, partition, directory, options, logger, time, segments, writers, tailBudget);
        Log.PartitionOpened(logger, topic.ToString(), partition, segments.Length, log.StartOffset, log.EndOffset,
            Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return log;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

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
                _queue.Writer.TryComplete(error);
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

    // Called with _writeLock held. Assigns offsets, writes, flushes per policy, publishes, completes.
    private void WriteGroup(List<PendingAppend> group)
    {
        var now = _time.GetUtcNow();
        var active = _segments[^1];
        if (active.Size > 0 && now - active.Created >= _options.SegmentAge)
        {
            active = Roll(active, "age");
        }

        var buffers = new List<ReadOnlyMemory<byte>>(group.Count);
        var headers = new List<BatchHeader>(group.Count);
        long pendingBytes = 0;
        long groupBytes = 0;
        long groupRecords = 0;
        foreach (var p in group)
        {
            var length = p.Batch.Length;
            if (active.Size + pendingBytes > 0 && active.Size + pendingBytes + length > _options.SegmentBytes)
            {
                if (buffers.Count > 0)
                {
                    active.Append(buffers, headers);
                    buffers.Clear();
                    headers.Clear();
                    pendingBytes = 0;
                }

                active = Roll(active, "size");
            }

            var baseOffset = _nextOffset;
            RecordBatch.SetBaseOffset(p.Batch.Buffer, baseOffset, p.Batch.BodyCrc);
            p.BaseOffset = baseOffset;
            _nextOffset = baseOffset + p.Batch.LastOffsetDelta + 1;
            RecordBatch.TryReadHeader(p.Batch.Buffer.AsSpan(0, length), out var header);
            buffers.Add(p.Batch.Buffer.AsMemory(0, length));
            headers.Add(header);
            pendingBytes += length;
            groupBytes += length;
            groupRecords += p.Batch.Count;
        }

        if (buffers.Count > 0)
        {
            active.Append(buffers, headers);
        }

        if (_options.FlushPolicy == FlushPolicy.Always)
        {
            active.Flush();
        }
        else
        {
            _dirty = true;
        }

        StorageMetrics.OnGroupCommit(group.Count, groupRecords, groupBytes, _options.FlushPolicy == FlushPolicy.Always);
        active.Publish();
        PublishEnd(_nextOffset);
        foreach (var p in group)
        {
            p.Completion.TrySetResult(new AppendResult(p.BaseOffset, p.Batch.Count,
                DateTimeOffset.FromUnixTimeMilliseconds(p.Batch.MaxTimestamp)));
        }
    }

    private void PublishEnd(long end)
    {
        Volatile.Write(ref _endOffset, end);
        Interlocked.Exchange(ref _dataSignal, NewSignal()).TrySetResult();
    }

    // Seals the active segment (its bytes and indexes forced to disk) and starts a new one at the next offset.
    private Segment Roll(Segment active, string reason)
    {
        active.Seal();
        var next = Segment.Create(Directory, _nextOffset, _time.GetUtcNow(), _logger, _options.IndexIntervalBytes);
        DirectorySync.Flush(Directory); // the new file name must survive a crash before data in it is acknowledged
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

    public ReadResult Read(long offset, int maxCount, int maxBytes)
    {
        ThrowIfClosedForReads();
        _swapLock.EnterReadLock();
        try
        {
            return ReadLocked(offset, maxCount, maxBytes);
        }
        finally
        {
            _swapLock.ExitReadLock();
        }
    }

    private ReadResult ReadLocked(long offset, int maxCount, int maxBytes)
    {
        for (var attempt = 0; ; attempt++)
        {
            var end = EndOffset;
            var segments = Volatile.Read(ref _segments);
            var start = segments[0].BaseOffset;
            if (offset < start || offset > end)
            {
                throw new OffsetOutOfRangeException(Partition, offset, start, end);
            }

            if (offset == end)
            {
                // The common answer of a caught-up reader: no list to allocate.
                return new ReadResult(Array.Empty<StoredRecord>(), end, end);
            }

            if (_tail?.TryRead(offset, end, maxCount, maxBytes) is { } cached)
            {
                return cached;
            }

            var output = new List<StoredRecord>(Math.Clamp(maxCount, 1, 1024));

            try
            {
                var bytes = 0;
                var next = offset;
                for (var i = FindSegment(segments, offset); i < segments.Length && output.Count == 0 && next < end; i++)
                {
                    next = Math.Max(next, segments[i].BaseOffset);
                    segments[i].Read(next, end, maxCount, maxBytes, output, ref bytes, ref next);
                    if (segments[i].Removed)
                    {
                        // Compaction may have swapped the file under this read: its positions are no longer trusted.
                        throw new SegmentRemovedException();
                    }

                    if (output.Count == 0 && i + 1 < segments.Length)
                    {
                        next = Math.Max(next, segments[i + 1].BaseOffset);
                    }
                }

                var result = new ReadResult(output, output.Count == 0 ? Math.Max(next, end) : next, end);

                // Other readers near the end of this partition (one per subscription) want the same records next.
                _tail?.Offer(offset, result.NextOffset, end, output);
                return result;
            }
            catch (Exception ex) when (attempt < 8 && ex is SegmentRemovedException or FileNotFoundException or ObjectDisposedException)
            {
                // Retention or compaction replaced a segment under us: retry on the new list.
            }
        }
    }

    private static int FindSegment(Segment[] segments, long offset)
    {
        int lo = 0, hi = segments.Length - 1, found = 0;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (segments[mid].BaseOffset <= offset)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    public long FindOffset(DateTimeOffset timestamp)
    {
        ThrowIfClosedForReads();
        _swapLock.EnterReadLock();
        try
        {
            return FindOffsetLocked(timestamp);
        }
        finally
        {
            _swapLock.ExitReadLock();
        }
    }

    private long FindOffsetLocked(DateTimeOffset timestamp)
    {
        var ts = timestamp.ToUnixTimeMilliseconds();
        for (var attempt = 0; ; attempt++)
        {
            var end = EndOffset;
            var segments = Volatile.Read(ref _segments);
            try
            {
                foreach (var segment in segments)
                {
                    if (segment.BaseOffset >= end)
                    {
                        break;
                    }

                    if (segment.MaxTimestamp < ts || segment.VisibleSize == 0)
                    {
                        continue;
                    }

                    var found = segment.FindOffset(ts, end);
                    if (segment.Removed)
                    {
                        throw new SegmentRemovedException();
                    }

                    if (found is { } offset)
                    {
                        return offset;
                    }
                }

                return end;
            }
            catch (Exception ex) when (attempt < 8 && ex is SegmentRemovedException or FileNotFoundException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask WaitForDataAsync(long offset, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Take the signal before checking the end: a commit after the check completes this very signal.
            var signal = Volatile.Read(ref _dataSignal);
            ThrowIfClosedForReads();
            if (EndOffset > offset)
            {
                return;
            }

            await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void ThrowIfClosedForReads()
    {
        switch (Volatile.Read(ref _readError))
        {
            case null:
                return;
            case TopicNotFoundException deleted:
                throw new TopicNotFoundException(deleted.Topic);
            default:
                throw new ObjectDisposedException("EmbeddedLog", "the log is closed");
        }
    }

    public PartitionInfo Describe()
    {
        var end = EndOffset;
        var segments = Volatile.Read(ref _segments);
        long bytes = 0;
        long oldest = long.MinValue, newest = long.MinValue;
        foreach (var s in segments)
        {
            bytes += s.VisibleSize;
            if (s.VisibleSize > 0)
            {
                if (oldest == long.MinValue && s.FirstTimestamp != long.MinValue)
                {
                    oldest = s.FirstTimestamp;
                }

                newest = Math.Max(newest, s.MaxTimestamp);
            }
        }

        return new PartitionInfo(Partition, segments[0].BaseOffset, end, bytes,
            oldest == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(oldest),
            newest == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(newest));
    }

    // ---------------------------------------------------------------- retention and compaction

    /// <summary>Deletes whole closed segments past the retention time or bytes; compacts when asked. Returns segments deleted.</summary>
    public async Task<int> RunMaintenanceAsync(TopicSettings settings, CancellationToken cancellationToken)
    {
        await _maintenanceLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _readError) is not null)
            {
                return 0; // closed or deleted meanwhile
            }

            // An idle tail cache gives its share of the budget back to partitions being read.
            _tail?.ClearIfIdle(TailCacheIdleMs);
            var deleted = ApplyRetention(settings);
            if (settings.Compacted)
            {
                Compact();
            }

            return deleted;
        }
        finally
        {
            _maintenanceLock.Release();
        }
    }

    private int ApplyRetention(TopicSettings settings)
    {
        if (settings.RetentionTime is null && settings.RetentionBytes is null)
        {
            return 0;
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        List<Segment> doomed = [];
        _swapLock.EnterWriteLock();
        try
        {
            ApplyRetentionLocked(settings, now, doomed);
        }
        finally
        {
            _swapLock.ExitWriteLock();
        }

        foreach (var s in doomed)
        {
            Log.SegmentDeleted(_logger, Topic.ToString(), Partition, s.LogPath, _segments[0].BaseOffset);
        }

        return doomed.Count;
    }

    private void ApplyRetentionLocked(TopicSettings settings, long now, List<Segment> doomed)
    {
        lock (_segmentsLock)
        {
            var segments = _segments;
            long total = 0;
            foreach (var s in segments)
            {
                total += s.Size;
            }

            var count = 0;
            // Never the active (last) segment.
            while (count < segments.Length - 1)
            {
                var s = segments[count];
                var expired = settings.RetentionTime is { } t && s.MaxTimestamp != long.MinValue
                    && s.MaxTimestamp < now - (long)t.TotalMilliseconds;

                // Kafka's rule: delete the oldest while what remains still holds at least the retention bytes.
                var tooBig = settings.RetentionBytes is { } b && total - s.Size >= b;
                if (!expired && !tooBig)
                {
                    break;
                }

                total -= s.Size;
                doomed.Add(s);
                count++;
            }

            if (count > 0)
            {
                Volatile.Write(ref _segments, segments[count..]);
            }
        }

        foreach (var s in doomed)
        {
            s.DeleteFiles();
        }
    }

    /// <summary>
    /// Rewrites closed segments keeping, per key, only the newest record of the whole partition; keys whose
    /// newest record is a tombstone disappear from closed segments. Unkeyed records are kept. Offsets are kept
    /// (gaps appear); each segment is replaced atomically by rename.
    /// </summary>
    private void Compact()
    {
        var segments = Volatile.Read(ref _segments);
        if (segments.Length < 2)
        {
            return;
        }

        var end = EndOffset;
        var latest = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in segments)
        {
            ForEachRecord(s, end, r =>
            {
                if (r.Key is { } k)
                {
                    latest[Encoding.Latin1.GetString(k.Span)] = r.Offset;
                }
            });
        }

        for (var i = 0; i < segments.Length - 1; i++)
        {
            CompactSegment(segments[i], latest, end);
        }
    }

    private void CompactSegment(Segment segment, Dictionary<string, long> latest, long end)
    {
        var tmp = segment.LogPath + ".cleaned";
        var kept = 0;
        var dropped = 0;
        using (var output = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1024 * 1024))
        {
            using var handle = segment.OpenRead();
            using var scanner = new BatchScanner(handle, 0, segment.VisibleSize, segment.BaseOffset);
            var records = new List<StoredRecord>();
            var entries = new List<RecordEntry>();
            while (scanner.Next() == ScanResult.Batch)
            {
                var header = scanner.Header;
                records.Clear();
                entries.Clear();
                int bytes = 0;
                long next = 0;
                if (!RecordBatch.TryDecode(scanner.Batch, header, 0, long.MaxValue, int.MaxValue, int.MaxValue, records, ref bytes, ref next))
                {
                    throw new CorruptLogException(segment.LogPath, scanner.BatchPosition, "records do not parse although the CRC matches");
                }

                foreach (var r in records)
                {
                    var keep = r.Key is not { } k
                        || (latest.TryGetValue(Encoding.Latin1.GetString(k.Span), out var newest) && newest == r.Offset && r.Value is not null);
                    if (keep)
                    {
                        entries.Add(new RecordEntry((int)(r.Offset - header.BaseOffset), r.Timestamp.ToUnixTimeMilliseconds(), r.Key, r.Value, r.Headers));
                        kept++;
                    }
                    else
                    {
                        dropped++;
                    }
                }

                if (entries.Count > 0)
                {
                    var encoded = RecordBatch.Encode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(entries), header.BaseOffset, int.MaxValue);
                    output.Write(encoded.Buffer, 0, encoded.Length);
                    ArrayPool<byte>.Shared.Return(encoded.Buffer);
                }
            }

            output.Flush(flushToDisk: true);
        }

        if (dropped == 0)
        {
            File.Delete(tmp);
            return;
        }

        _swapLock.EnterWriteLock();
        try
        {
            SwapLocked(segment, tmp);
        }
        finally
        {
            _swapLock.ExitWriteLock();
        }

        Log.SegmentCompacted(_logger, Topic.ToString(), Partition, segment.LogPath, kept, dropped);
    }

    private void SwapLocked(Segment segment, string tmp)
    {
        lock (_segmentsLock)
        {
            var segments = _segments;
            var index = Array.IndexOf(segments, segment);
            if (index < 0)
            {
                File.Delete(tmp); // deleted by retention meanwhile
                return;
            }

            // Mark first: a reader that meets the new bytes through the old object's index retries instead of crying corruption.
            segment.Removed = true;

            // Indexes go first (made durable), then the rename: a crash in between leaves the old or the new
            // log without index files, which open rebuilds, never new data behind old positions.
            File.Delete(segment.IndexPath);
            File.Delete(segment.TimeIndexPath);
            DirectorySync.Flush(Directory);
            File.Move(tmp, segment.LogPath, overwrite: true);
            DirectorySync.Flush(Directory);
            var replacement = Segment.OpenClosed(Directory, segment.BaseOffset, segment.Created, _logger, _options.IndexIntervalBytes, freshlyWritten: true);
            var copy = (Segment[])segments.Clone();
            copy[index] = replacement;
            Volatile.Write(ref _segments, copy);
            _tail?.Clear();
        }
    }

    private static void ForEachRecord(Segment segment, long end, Action<StoredRecord> action)
    {
        var handle = segment.OpenRead();
        var owned = !segment.IsActive;
        try
        {
            using var scanner = new BatchScanner(handle, 0, segment.VisibleSize, segment.BaseOffset);
            var records = new List<StoredRecord>();
            while (scanner.Next() == ScanResult.Batch)
            {
                records.Clear();
                int bytes = 0;
                long next = 0;
                if (RecordBatch.TryDecode(scanner.Batch, scanner.Header, 0, end, int.MaxValue, int.MaxValue, records, ref bytes, ref next))
                {
                    records.ForEach(action);
                }
            }
        }
        finally
        {
            if (owned)
            {
                handle.Dispose();
            }
        }
    }

    // ---------------------------------------------------------------- shutdown

    /// <summary>Stops the writer; pending appends and tail readers fail with <paramref name="reason"/>.</summary>
    public async Task CloseAsync(Exception reason, bool deleteFiles)
    {
        Volatile.Write(ref _closedError, reason);
        Volatile.Write(ref _readError, reason);
        _tail?.Close();
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        Interlocked.Exchange(ref _dataSignal, NewSignal()).TrySetException(reason);

        // Wait for a running retention or compaction pass and an interval flush; later ones see _readError and stop.
        await _maintenanceLock.WaitAsync().ConfigureAwait(false);
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var s in _segments)
            {
                // A clean shutdown leaves every segment sealed (flushed, indexes complete) whatever the policy.
                s.Close(flush: !deleteFiles);
            }
        }
        finally
        {
            _writeLock.Release();
            _maintenanceLock.Release();
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync(new ObjectDisposedException("EmbeddedLog"), deleteFiles: false));

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
    }
}
