using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Sluice.Core.Log;
using Sluice.Storage.Format;

namespace Sluice.Storage.Partitions;

/// <summary>
/// One segment of a partition: <c>{base:D20}.log</c> (record batches), <c>.index</c> (sparse
/// relative offset -> file position, 8-byte entries) and <c>.timeindex</c> (sparse running max
/// timestamp before a batch -> relative offset, 12-byte entries), one entry of each every
/// <see cref="StorageOptions.IndexIntervalBytes"/>.
/// <para>
/// The active segment (the last one) keeps its write handle and its index in memory (bounded by the
/// segment size); a closed segment keeps only a few numbers and reads its files on demand, so
/// memory does not grow with the length of the log, and handles are held only while reading.
/// </para>
/// </summary>
internal sealed partial class Segment
{
    public const int IndexEntryBytes = 8;
    public const int TimeIndexEntryBytes = 12;

    private readonly ILogger _logger;
    private readonly int _indexInterval;

    // Writer-owned; published to readers with Volatile.
    private long _size;
    private long _visibleSize;
    private long _nextOffset;
    private long _maxTimestamp = long.MinValue;
    private long _firstTimestamp = long.MinValue;

    // Active segment only.
    private SafeFileHandle? _writeHandle;
    private FileStream? _indexStream;
    private FileStream? _timeIndexStream;
    private IndexEntry[]? _entries;
    private int _entryCount;
    private long _lastIndexedPosition;
    private long _runningMaxTimestamp = long.MinValue;
    private bool _removed;

    private Segment(string directory, long baseOffset, DateTimeOffset created, ILogger logger, int indexInterval)
    {
        BaseOffset = baseOffset;
        var stem = Path.Combine(directory, baseOffset.ToString("D20", CultureInfo.InvariantCulture));
        LogPath = stem + ".log";
        IndexPath = stem + ".index";
        TimeIndexPath = stem + ".timeindex";
        Created = created;
        _logger = logger;
        _indexInterval = indexInterval;
        _nextOffset = baseOffset;
    }

    public long BaseOffset { get; }

    public string LogPath { get; }

    public string IndexPath { get; }

    public string TimeIndexPath { get; }

    /// <summary>When this segment was created or, after a restart, opened: the start of its age for rolling.</summary>
    public DateTimeOffset Created { get; }

    /// <summary>Bytes written (the writer's view).</summary>
    public long Size => _size;

    /// <summary>Bytes readers may read: whole batches, durable under the flush policy.</summary>
    public long VisibleSize => Volatile.Read(ref _visibleSize);

    /// <summary>The offset after the last batch written.</summary>
    public long NextOffset => Volatile.Read(ref _nextOffset);

    public long MaxTimestamp => Volatile.Read(ref _maxTimestamp);

    public long FirstTimestamp => Volatile.Read(ref _firstTimestamp);

    public bool IsActive => _writeHandle is not null;

    /// <summary>Set when retention deleted the files or compaction replaced them: readers holding this object retry.</summary>
    public bool Removed
    {
        get => Volatile.Read(ref _removed);
        set => Volatile.Write(ref _removed, value);
    }

    public static string FileStem(long baseOffset) => baseOffset.ToString("D20", CultureInfo.InvariantCulture);

    /// <summary>Creates a new, empty active segment (an existing empty leftover file is reused).</summary>
    public static Segment Create(string directory, long baseOffset, DateTimeOffset now, ILogger logger, int indexInterval)
    {
        var segment = new Segment(directory, baseOffset, now, logger, indexInterval);
        segment._writeHandle = File.OpenHandle(segment.LogPath, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        segment._entries = new IndexEntry[64];
        segment.OpenIndexStreams(FileMode.Create);
        return segment;
    }

    /// <summary>
    /// Opens the last segment of a partition for appending. Every batch is validated (header, order,
    /// CRC); the file is truncated at the first torn or corrupt one, and both indexes are rebuilt from the scan.
    /// </summary>
    public static Segment OpenActive(string directory, long baseOffset, DateTimeOffset now, ILogger logger, int indexInterval)
    {
        var segment = new Segment(directory, baseOffset, now, logger, indexInterval);
        var handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            segment._entries = new IndexEntry[64];
            var length = RandomAccess.GetLength(handle);
            using (var scanner = new BatchScanner(handle, 0, length, baseOffset))
            {
                ScanResult result;
                while ((result = scanner.Next()) == ScanResult.Batch)
                {
                    segment.Track(scanner.Header, scanner.BatchPosition);
                }

                if (result == ScanResult.Bad)
                {
                    Log.TornTailTruncated(logger, segment.LogPath, scanner.Position, length - scanner.Position, scanner.Problem!);
                    RandomAccess.SetLength(handle, scanner.Position);
                    RandomAccess.FlushToDisk(handle);
                }

                segment._size = scanner.Position;
                segment._visibleSize = scanner.Position;
            }

            // The index files of the active segment are never trusted: they are rewritten from the scan.
            segment.OpenIndexStreams(FileMode.Create);
            for (var i = 0; i < segment._entryCount; i++)
            {
                segment.WriteIndexEntry(segment._entries[i]);
            }

            segment._writeHandle = handle;
            return segment;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a closed segment: checks that its index files are well formed (whole entries, increasing,
    /// within the file) and rebuilds them by scanning otherwise; reads the batches after the last index
    /// entry for the segment's next offset and newest timestamp.
    /// </summary>
    public static Segment OpenClosed(string directory, long baseOffset, DateTimeOffset now, ILogger logger, int indexInterval, bool freshlyWritten = false)
    {
        var segment = new Segment(directory, baseOffset, now, logger, indexInterval);
        using var handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(handle);
        segment._size = length;
        segment._visibleSize = length;
        var problem = segment.CheckIndexes(length, out var lastPosition, out var lastTimestamp);
        if (problem is not null)
        {
            if (!freshlyWritten)
            {
                Log.IndexRebuilt(logger, segment.IndexPath, problem);
            }

            segment.RebuildIndexes(handle, length);
            return segment;
        }

        segment._maxTimestamp = lastTimestamp;
        using var scanner = new BatchScanner(handle, lastPosition, length, baseOffset);
        ScanResult result;
        var first = true;
        while ((result = scanner.Next()) == ScanResult.Batch)
        {
            if (first && lastPosition == 0)
            {
                segment._firstTimestamp = scanner.Header.FirstTimestamp;
            }

            first = false;
            segment._maxTimestamp = Math.Max(segment._maxTimestamp, scanner.Header.MaxTimestamp);
            segment._nextOffset = scanner.Header.NextOffset;
        }

        if (result == ScanResult.Bad)
        {
            // Not truncated: later segments follow it. Reads stop at the damage and report it.
            Log.CorruptBatch(logger, segment.LogPath, scanner.Position, scanner.Problem!);
        }

        if (segment._firstTimestamp == long.MinValue && length > 0)
        {
            Span<byte> header = stackalloc byte[RecordBatch.HeaderSize];
            if (RandomAccess.Read(handle, header, 0) == header.Length && RecordBatch.TryReadHeader(header, out var h))
            {
                segment._firstTimestamp = h.FirstTimestamp;
            }
        }

        return segment;
    }

    // Returns why the index files cannot be trusted, or null, with the last entry's position and timestamp.
    private string? CheckIndexes(long logLength, out long lastPosition, out long lastTimestamp)
    {
        lastPosition = 0;
        lastTimestamp = long.MinValue;
        if (!File.Exists(IndexPath) || !File.Exists(TimeIndexPath))
        {
            return "index file missing";
        }

        var index = File.ReadAllBytes(IndexPath);
        var timeIndex = File.ReadAllBytes(TimeIndexPath);
        if (index.Length % IndexEntryBytes != 0 || timeIndex.Length % TimeIndexEntryBytes != 0)
        {
            return "index file holds a partial entry";
        }

        var count = index.Length / IndexEntryBytes;
        if (timeIndex.Length / TimeIndexEntryBytes != count)
        {
            return "offset and time indexes differ in length";
        }

        long previousRel = -1, previousPos = 0, previousTs = long.MinValue;
        for (var i = 0; i < count; i++)
        {
            var rel = BinaryPrimitives.ReadInt32LittleEndian(index.AsSpan(i * IndexEntryBytes));
            var pos = BinaryPrimitives.ReadInt32LittleEndian(index.AsSpan(i * IndexEntryBytes + 4));
            var ts = BinaryPrimitives.ReadInt64LittleEndian(timeIndex.AsSpan(i * TimeIndexEntryBytes));
            var timeRel = BinaryPrimitives.ReadInt32LittleEndian(timeIndex.AsSpan(i * TimeIndexEntryBytes + 8));
            if (rel <= previousRel || pos <= previousPos || pos >= logLength || timeRel != rel || ts < previousTs)
            {
                return $"index entry {i} is out of order or points outside the log";
            }

            previousRel = rel;
            previousPos = pos;
            previousTs = ts;
        }

        lastPosition = previousPos;
        lastTimestamp = previousTs;
        return null;
    }

    private void RebuildIndexes(SafeFileHandle handle, long length)
    {
        _entries = new IndexEntry[64];
        _entryCount = 0;
        using (var scanner = new BatchScanner(handle, 0, length, BaseOffset))
        {
            ScanResult result;
            while ((result = scanner.Next()) == ScanResult.Batch)
            {
                Track(scanner.Header, scanner.BatchPosition);
            }

            if (result == ScanResult.Bad)
            {
                Log.CorruptBatch(_logger, LogPath, scanner.Position, scanner.Problem!);
            }
        }

        OpenIndexStreams(FileMode.Create);
        for (var i = 0; i < _entryCount; i++)
        {
            WriteIndexEntry(_entries[i]);
        }

        CloseIndexStreams(flush: true);
        _entries = null;
        _entryCount = 0;
    }

    private void OpenIndexStreams(FileMode mode)
    {
        // 4 KiB buffers: entries are small and the files are rebuilt if a crash loses the tail.
        _indexStream = new FileStream(IndexPath, mode, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096);
        _timeIndexStream = new FileStream(TimeIndexPath, mode, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096);
    }

    private void CloseIndexStreams(bool flush)
    {
        if (flush)
        {
            _indexStream?.Flush(flushToDisk: true);
            _timeIndexStream?.Flush(flushToDisk: true);
        }

        _indexStream?.Dispose();
        _timeIndexStream?.Dispose();
        _indexStream = null;
        _timeIndexStream = null;
    }

    private void WriteIndexEntry(in IndexEntry entry)
    {
        Span<byte> bytes = stackalloc byte[IndexEntryBytes + TimeIndexEntryBytes];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, entry.RelativeOffset);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[4..], entry.Position);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], entry.Timestamp);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[16..], entry.RelativeOffset);
        _indexStream!.Write(bytes[..IndexEntryBytes]);
        _timeIndexStream!.Write(bytes[IndexEntryBytes..]);
    }

    // Records a batch at `position` (in memory): offsets, timestamps and, every index interval, an index entry.
    private bool Track(in BatchHeader header, long position)
    {
        var indexed = false;
        if (position - _lastIndexedPosition >= _indexInterval && _entries is not null)
        {
            var entry = new IndexEntry((int)(header.BaseOffset - BaseOffset), (int)position, _runningMaxTimestamp);
            if (_entryCount == _entries.Length)
            {
                // Publish the larger copy before the count, so a reader never sees a count beyond its array.
                var larger = new IndexEntry[_entries.Length * 2];
                _entries.AsSpan().CopyTo(larger);
                Volatile.Write(ref _entries, larger);
            }

            _entries[_entryCount] = entry;
            Volatile.Write(ref _entryCount, _entryCount + 1);
            _lastIndexedPosition = position;
            indexed = true;
        }

        if (_firstTimestamp == long.MinValue)
        {
            Volatile.Write(ref _firstTimestamp, header.FirstTimestamp);
        }

        _runningMaxTimestamp = Math.Max(_runningMaxTimestamp, header.MaxTimestamp);
        Volatile.Write(ref _maxTimestamp, _runningMaxTimestamp);
        Volatile.Write(ref _nextOffset, header.NextOffset);
        return indexed;
    }

    /// <summary>Writes batches (already given their offsets) at the end of the file with one gather write.</summary>
    public void Append(IReadOnlyList<ReadOnlyMemory<byte>> buffers, IReadOnlyList<BatchHeader> headers)
    {
        var position = _size;
        long total = 0;
        foreach (var b in buffers)
        {
            total += b.Length;
        }

        RandomAccess.Write(_writeHandle!, buffers, position);
        foreach (var header in headers)
        {
            if (Track(header, position))
            {
                WriteIndexEntry(_entries![_entryCount - 1]);
            }

            position += header.TotalSize;
        }

        _size += total;
    }

    /// <summary>Forces written bytes to disk.</summary>
    public void Flush() => RandomAccess.FlushToDisk(_writeHandle!);

    /// <summary>Makes everything written visible to readers.</summary>
    public void Publish() => Volatile.Write(ref _visibleSize, _size);

    /// <summary>Turns the active segment into a closed one: data and indexes forced to disk, handles closed.</summary>
    public void Seal()
    {
        if (_writeHandle is null)
        {
            return;
        }

        RandomAccess.FlushToDisk(_writeHandle);
        Publish();
        CloseIndexStreams(flush: true);
        _writeHandle.Dispose();
        _writeHandle = null;
        _entries = null;
        _entryCount = 0;
    }

    /// <summary>Closes without sealing (shutdown of a partition whose data is already flushed as the policy asks).</summary>
    public void Close(bool flush)
    {
        if (_writeHandle is null)
        {
            return;
        }

        if (flush)
        {
            Seal();
            return;
        }

        CloseIndexStreams(flush: false);
        _writeHandle.Dispose();
        _writeHandle = null;
    }

    public void DeleteFiles()
    {
        Removed = true;
        Close(flush: false);
        File.Delete(LogPath);
        File.Delete(IndexPath);
        File.Delete(TimeIndexPath);
    }

    /// <summary>File position of the last indexed batch at or before <paramref name="offset"/> (0 when none).</summary>
    public long LookupPosition(long offset)
    {
        var rel = offset - BaseOffset;
        if (rel <= 0)
        {
            return 0;
        }

        var count = Volatile.Read(ref _entryCount);
        var entries = Volatile.Read(ref _entries);
        if (entries is not null)
        {
            int lo = 0, hi = count - 1, found = -1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                if (entries[mid].RelativeOffset <= rel)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return found < 0 ? 0 : entries[found].Position;
        }

        return LookupFile(IndexPath, IndexEntryBytes, e => BinaryPrimitives.ReadInt32LittleEndian(e) <= rel,
            e => BinaryPrimitives.ReadInt32LittleEndian(e[4..]));
    }

    /// <summary>File position from which a scan finds the first record with a timestamp at or after <paramref name="timestamp"/>.</summary>
    public long LookupTimePosition(long timestamp)
    {
        var count = Volatile.Read(ref _entryCount);
        var entries = Volatile.Read(ref _entries);
        if (entries is not null)
        {
            // Entry timestamps are the running maximum before the batch: every earlier record is older.
            int lo = 0, hi = count - 1, found = -1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                if (entries[mid].Timestamp < timestamp)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return found < 0 ? 0 : entries[found].Position;
        }

        var rel = LookupFile(TimeIndexPath, TimeIndexEntryBytes, e => BinaryPrimitives.ReadInt64LittleEndian(e) < timestamp,
            e => BinaryPrimitives.ReadInt32LittleEndian(e[8..]));
        return rel == 0 ? 0 : LookupPosition(BaseOffset + rel);
    }

    // Binary search over a file of fixed-size entries with positioned reads: no index is held in memory.
    private static long LookupFile(string path, int entryBytes, Func<ReadOnlySpan<byte>, bool> isAtOrBefore, Func<ReadOnlySpan<byte>, long> value)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return 0; // deleted by retention meanwhile: a scan from the start is always correct
        }

        using (handle)
        {
            Span<byte> entry = stackalloc byte[entryBytes];
            long lo = 0, hi = RandomAccess.GetLength(handle) / entryBytes - 1, found = -1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                if (RandomAccess.Read(handle, entry, mid * entryBytes) != entryBytes)
                {
                    break;
                }

                if (isAtOrBefore(entry))
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            if (found < 0 || RandomAccess.Read(handle, entry, found * entryBytes) != entryBytes)
            {
                return 0;
            }

            return value(entry);
        }
    }

    public SafeFileHandle OpenRead()
        => _writeHandle ?? File.OpenHandle(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    // For sizing a read by its record count: generous for typical messages.
    private const int ExpectedRecordBytes = 1024;

    /// <summary>
    /// Reads records from <paramref name="offset"/> into <paramref name="output"/> within the visible bytes.
    /// Each batch's CRC is checked before any of its records is decoded; a bad batch is logged and, when
    /// nothing was read before it, thrown as <see cref="CorruptLogException"/>.
    /// </summary>
    public void Read(long offset, long endOffset, int maxCount, int maxBytes, List<StoredRecord> output, ref int bytes, ref long nextOffset)
    {
        var limit = VisibleSize;
        var position = LookupPosition(offset);
        if (position >= limit)
        {
            return;
        }

        var handle = OpenRead();
        var owned = !ReferenceEquals(handle, _writeHandle);

        // What the read may need (maxBytes, or maxCount records of up to ExpectedRecordBytes when that is less) plus one index
        // interval (the scan may start that far before the offset), within 64 KiB .. 4 MiB: big reads are what makes a
        // cold sequential read fast, and a read of a few records must not copy megabytes (larger records simply take
        // more rounds of the loop below).
        var wanted = Math.Min(maxBytes, (long)maxCount * ExpectedRecordBytes);
        var chunk = (int)Math.Clamp(wanted + _indexInterval + RecordBatch.HeaderSize, 64 * 1024, 4 * 1024 * 1024);
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(chunk, limit - position));
        try
        {
            while (position < limit)
            {
                var want = (int)Math.Min(buffer.Length, limit - position);
                var read = ReadFully(handle, buffer.AsSpan(0, want), position);
                if (read < want)
                {
                    // Shorter than its durable size: replaced by compaction under us, or cut short on disk.
                    ThrowOrStop(position + read, "segment file is shorter than its durable size", output);
                    return;
                }

                var p = 0;
                while (p < read)
                {
                    var batchPosition = position + p;
                    if (read - p < RecordBatch.HeaderSize)
                    {
                        if (p == 0)
                        {
                            ThrowOrStop(batchPosition, "incomplete batch header inside the durable part of the segment", output);
                            return;
                        }

                        break;
                    }

                    var span = buffer.AsSpan(p, read - p);
                    if (!RecordBatch.TryReadHeader(span, out var header) || header.TotalSize > limit - batchPosition)
                    {
                        ThrowOrStop(batchPosition, "malformed batch header", output);
                        return;
                    }

                    if (header.TotalSize > span.Length)
                    {
                        if (p == 0)
                        {
                            // A batch larger than the buffer: grow to fit it and read again.
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = ArrayPool<byte>.Shared.Rent(header.TotalSize);
                        }

                        break;
                    }

                    if (!RecordBatch.CrcMatches(span, header))
                    {
                        ThrowOrStop(batchPosition, "CRC-32C mismatch", output);
                        return;
                    }

                    p += header.TotalSize;
                    if (header.NextOffset <= offset)
                    {
                        continue;
                    }

                    if (!RecordBatch.TryDecode(span, header, offset, endOffset, maxCount, maxBytes, output, ref bytes, ref nextOffset))
                    {
                        ThrowOrStop(batchPosition, "records do not parse although the CRC matches", output);
                        return;
                    }

                    if (output.Count >= maxCount || (output.Count > 0 && bytes >= maxBytes) || nextOffset >= endOffset)
                    {
                        return;
                    }
                }

                position += p;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (owned)
            {
                handle.Dispose();
            }
        }
    }

    private static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[read..], position + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read;
    }

    // Records decoded before the damage are good and are returned; the next read starts at the damage and throws.
    private void ThrowOrStop(long position, string reason, List<StoredRecord> output)
    {
        if (output.Count > 0)
        {
            return;
        }

        if (Removed)
        {
            throw new SegmentRemovedException();
        }

        Log.CorruptBatch(_logger, LogPath, position, reason);
        ThrowCorrupt(LogPath, position, reason);
    }

    [DoesNotReturn]
    private static void ThrowCorrupt(string file, long position, string reason) => throw new CorruptLogException(file, position, reason);

    /// <summary>The first record at or after <paramref name="timestamp"/> below <paramref name="endOffset"/>, or null.</summary>
    public long? FindOffset(long timestamp, long endOffset)
    {
        var limit = VisibleSize;
        var handle = OpenRead();
        var owned = !ReferenceEquals(handle, _writeHandle);
        try
        {
            using var scanner = new BatchScanner(handle, LookupTimePosition(timestamp), limit, BaseOffset);
            var records = new List<StoredRecord>();
            ScanResult result;
            while ((result = scanner.Next()) == ScanResult.Batch)
            {
                var header = scanner.Header;
                if (header.BaseOffset >= endOffset)
                {
                    return null;
                }

                if (header.MaxTimestamp < timestamp)
                {
                    continue;
                }

                records.Clear();
                int bytes = 0;
                long next = 0;
                if (!RecordBatch.TryDecode(scanner.Batch, header, 0, endOffset, int.MaxValue, int.MaxValue, records, ref bytes, ref next))
                {
                    ThrowOrStop(scanner.BatchPosition, "records do not parse although the CRC matches", records);
                }

                foreach (var r in records)
                {
                    if (r.Timestamp.ToUnixTimeMilliseconds() >= timestamp)
                    {
                        return r.Offset;
                    }
                }
            }

            if (result == ScanResult.Bad)
            {
                ThrowOrStop(scanner.Position, scanner.Problem!, records);
            }

            return null;
        }
        finally
        {
            if (owned)
            {
                handle.Dispose();
            }
        }
    }

    private readonly record struct IndexEntry(int RelativeOffset, int Position, long Timestamp);

    private static partial class Log
    {
        [LoggerMessage(EventId = StorageEventIds.TornTailTruncated, Level = LogLevel.Warning,
            Message = "Truncated the torn or corrupt tail of '{File}' at byte {Position} ({Removed} bytes removed): {Reason}")]
        public static partial void TornTailTruncated(ILogger logger, string file, long position, long removed, string reason);

        [LoggerMessage(EventId = StorageEventIds.IndexRebuilt, Level = LogLevel.Warning, Message = "Rebuilt index '{File}': {Reason}")]
        public static partial void IndexRebuilt(ILogger logger, string file, string reason);

        [LoggerMessage(EventId = StorageEventIds.CorruptBatch, Level = LogLevel.Error,
            Message = "Corrupt record batch in '{File}' at byte {Position}: {Reason}; its records are not served")]
        public static partial void CorruptBatch(ILogger logger, string file, long position, string reason);
    }
}

/// <summary>The segment a reader was using was deleted or replaced meanwhile; the reader retries on a fresh view.</summary>
internal sealed class SegmentRemovedException() : IOException("segment removed during the read");
