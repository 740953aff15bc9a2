using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
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
/// <para>
/// Damage: batches that fail their checks are never served. Where the segment knows of damage (found by recovery or by
/// <see cref="ScanDamage"/>), <see cref="Damage"/> lists it, and reads for offsets after it jump over it.
/// </para>
/// </summary>
internal sealed partial class Segment
{
    public const int IndexEntryBytes = 8;
    public const int TimeIndexEntryBytes = 12;

    private static readonly byte[] ZeroBlock = new byte[64 * 1024];

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
    private bool _indexWriteFailed;
    private bool _removed;
    private long _releasedTo; // bytes from the file's start whose pages were given back to the kernel
    private long _reservedTo; // the file's length when zeros were written past _size (ReserveAhead); else _size or less
    private long _fsyncedAt = -1; // _size when DropReserve's fsync made data and length durable, until the file changes again

    // Known damage, sorted by position; replaced whole (readers take a snapshot).
    private DamagedSpan[] _damage = [];

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

    /// <summary>Set by <see cref="OpenActive"/> when it cut a torn or damaged tail: the position and why.</summary>
    public (long Position, string Reason)? TailCut { get; private set; }

    /// <summary>Damage this segment knows of, in file order.</summary>
    public IReadOnlyList<DamagedSpan> Damage => Volatile.Read(ref _damage);

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
        try
        {
            segment._entries = new IndexEntry[64];
            segment.OpenIndexStreams(FileMode.Create);
            return segment;
        }
        catch
        {
            // No space for the index files, say: leave no half-made segment behind (its name would claim an offset).
            segment._writeHandle.Dispose();
            segment._writeHandle = null;
            try
            {
                segment.DeleteFiles();
            }
            catch (IOException)
            {
                // An empty leftover is reused by the next Create of this offset, or opened as an empty segment.
            }

            throw;
        }
    }

    /// <summary>
    /// Opens the last segment of a partition for appending. Every batch is validated (header, order, CRC). A damaged
    /// batch followed by intact ones is skipped and kept in <see cref="Damage"/> (the batches after it are kept); damage
    /// with nothing intact after it is a torn tail, cut off (<see cref="TailCut"/>). Both indexes are rebuilt from the scan.
    /// <para>
    /// With <paramref name="zeroTailIsUnacknowledged"/> (flush policy <c>always</c>: nothing is acknowledged before it is
    /// synced), a tail that is all zeros is cut as nothing: the zeros <see cref="ReserveAhead"/> writes, or a write a
    /// machine crash lost before its sync. Otherwise such a tail may have held acknowledged records, and is a torn tail.
    /// </para>
    /// </summary>
    public static Segment OpenActive(string directory, long baseOffset, DateTimeOffset now, ILogger logger, int indexInterval, bool zeroTailIsUnacknowledged)
    {
        var segment = new Segment(directory, baseOffset, now, logger, indexInterval);
        var handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            segment._entries = new IndexEntry[64];
            var length = RandomAccess.GetLength(handle);
            var size = length;
            var damage = new List<DamagedSpan>();
            using (var scanner = new BatchScanner(handle, 0, length, baseOffset))
            {
                while (true)
                {
                    var result = scanner.Next();
                    if (result == ScanResult.Batch)
                    {
                        segment.Track(scanner.Header, scanner.BatchPosition);
                        continue;
                    }

                    if (result == ScanResult.End)
                    {
                        break;
                    }

                    if (zeroTailIsUnacknowledged && AllZeros(handle, scanner.Position, length))
                    {
                        // The zeros reserved ahead of the data (ReserveAhead), left by a crash: nothing acknowledged.
                        RandomAccess.SetLength(handle, scanner.Position);
                        RandomAccess.FlushToDisk(handle);
                        size = scanner.Position;
                        break;
                    }

                    var span = scanner.SkipDamage();
                    if (!scanner.AtEnd)
                    {
                        // Intact batches follow: this is damage, not a torn write. Skip it and keep them.
                        damage.Add(span);
                        continue;
                    }

                    Log.TornTailTruncated(logger, segment.LogPath, span.Position, length - span.Position, span.Reason);
                    RandomAccess.SetLength(handle, span.Position);
                    RandomAccess.FlushToDisk(handle);
                    segment.TailCut = (span.Position, span.Reason);
                    size = span.Position;
                    break;
                }
            }

            segment._size = size;
            segment._visibleSize = size;
            segment._damage = [.. damage];

            // The index files of the active segment are never trusted: they are rewritten from the scan.
            segment._writeHandle = handle;
            try
            {
                segment.OpenIndexStreams(FileMode.Create);
                for (var i = 0; i < segment._entryCount; i++)
                {
                    segment.WriteIndexEntry(segment._entries[i]);
                }
            }
            catch (IOException ex)
            {
                segment.OnIndexWriteFailed(ex);
            }

            return segment;
        }
        catch
        {
            segment._writeHandle = null;
            handle.Dispose();
            throw;
        }
    }

    private static bool AllZeros(SafeFileHandle handle, long from, long to)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ZeroBlock.Length);
        try
        {
            while (from < to)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, to - from)), from);
                if (read == 0 || buffer.AsSpan(0, read).ContainsAnyExcept((byte)0))
                {
                    return false;
                }

                from += read;
            }

            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Opens a closed segment: checks that its index files are well formed (whole entries, increasing, within the file,
    /// the last one pointing at an intact batch of the offset it names) and rebuilds them by scanning otherwise; reads
    /// the batches after the last index entry for the segment's next offset and newest timestamp, past damage if any.
    /// </summary>
    public static Segment OpenClosed(string directory, long baseOffset, DateTimeOffset now, ILogger logger, int indexInterval, bool freshlyWritten = false)
    {
        var segment = new Segment(directory, baseOffset, now, logger, indexInterval);
        using var handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(handle);
        segment._size = length;
        segment._visibleSize = length;
        var problem = segment.CheckIndexes(length, out var lastPosition, out var lastRelative, out var lastTimestamp)
            ?? segment.ScanTail(handle, length, lastPosition, lastRelative, lastTimestamp);
        if (problem is not null)
        {
            if (!freshlyWritten)
            {
                Log.IndexRebuilt(logger, segment.IndexPath, problem);
            }

            segment.RebuildIndexes(handle, length);
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

    // From the last index entry to the end: the next offset, the newest timestamp, and any damage there. Returns why the
    // index cannot be trusted when its last entry does not point at an intact batch of the offset it names.
    private string? ScanTail(SafeFileHandle handle, long length, long lastPosition, long lastRelative, long lastTimestamp)
    {
        _maxTimestamp = lastTimestamp;
        var damage = new List<DamagedSpan>();
        using var scanner = new BatchScanner(handle, lastPosition, length, BaseOffset + lastRelative);
        var first = true;
        while (true)
        {
            var result = scanner.Next();
            if (result == ScanResult.End)
            {
                break;
            }

            if (result == ScanResult.Batch)
            {
                if (first && lastPosition > 0 && scanner.Header.BaseOffset != BaseOffset + lastRelative)
                {
                    return $"the last index entry names offset {BaseOffset + lastRelative} but the batch there starts at {scanner.Header.BaseOffset}";
                }

                if (first && lastPosition == 0)
                {
                    _firstTimestamp = scanner.Header.FirstTimestamp;
                }

                first = false;
                _maxTimestamp = Math.Max(_maxTimestamp, scanner.Header.MaxTimestamp);
                _nextOffset = scanner.Header.NextOffset;
                continue;
            }

            if (first && lastPosition > 0)
            {
                // The index may be what is wrong: a full scan tells damage from a bad index entry.
                return $"the last index entry does not point at an intact batch ({scanner.Problem})";
            }

            // Not truncated: later segments follow it. Damage at the end ends at the next segment's base offset.
            first = false;
            var span = scanner.SkipDamage();
            Log.CorruptBatch(_logger, LogPath, span.Position, span.Reason);
            damage.Add(span);
            if (scanner.AtEnd)
            {
                break;
            }
        }

        _damage = [.. damage];
        return null;
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

    /// <summary>
    /// Writes batches (already given their offsets) at the end of the file with one gather write. When the write fails
    /// nothing is tracked: <see cref="CutToTracked"/> removes whatever part of it reached the file. With
    /// <paramref name="reserveAhead"/> above 0, a write that passes the zeros reserved so far writes that many more
    /// (<see cref="ReserveAhead"/>), never past <paramref name="reserveLimit"/> (the segment's size limit: it rolls there).
    /// </summary>
    public void Append(IReadOnlyList<ReadOnlyMemory<byte>> buffers, IReadOnlyList<BatchHeader> headers, int reserveAhead = 0, long reserveLimit = long.MaxValue)
    {
        _fsyncedAt = -1;
        var position = _size;
        long total = 0;
        foreach (var b in buffers)
        {
            total += b.Length;
        }

        RandomAccess.Write(_writeHandle!, buffers, position);
        foreach (var header in headers)
        {
            if (Track(header, position) && !_indexWriteFailed)
            {
                try
                {
                    WriteIndexEntry(_entries![_entryCount - 1]);
                }
                catch (IOException ex)
                {
                    // The data is written and tracked; the index files are only a lookup aid, rewritten at seal.
                    OnIndexWriteFailed(ex);
                }
            }

            position += header.TotalSize;
        }

        _size += total;
        if (reserveAhead > 0 && _size > _reservedTo)
        {
            ReserveAhead(Math.Min((_size / reserveAhead + 1) * reserveAhead, reserveLimit));
        }
    }

    // Writes zeros from the end of the data to `to`, so that the syncs of the appends that land
    // in them find the file's blocks allocated and its size unchanged: a sync is then the data and the device flush,
    // without the inode and allocation writes a growing file needs (design note 0032). The zeros are never data:
    // OpenActive cuts a tail that is all zeros, and sealing or closing the segment cuts them first.
    private void ReserveAhead(long to)
    {
        if (to <= _size)
        {
            return;
        }

        try
        {
            var zeros = new ReadOnlyMemory<byte>[(int)((to - _size + ZeroBlock.Length - 1) / ZeroBlock.Length)];
            for (var i = 0; i < zeros.Length; i++)
            {
                zeros[i] = ZeroBlock.AsMemory(0, (int)Math.Min(ZeroBlock.Length, to - _size - ((long)i * ZeroBlock.Length)));
            }

            RandomAccess.Write(_writeHandle!, zeros, _size);
            _reservedTo = to;
        }
        catch (IOException)
        {
            // No space for them, say: the appends are written; this segment's later syncs just grow the file again.
            // Whatever part of the zeros reached the file is cut at the seal, or at the next open.
            _reservedTo = long.MaxValue;
        }
    }

    /// <summary>Cuts the file back to the batches tracked: what a failed <see cref="Append"/> may have left behind it.</summary>
    public void CutToTracked()
    {
        _fsyncedAt = -1;
        RandomAccess.SetLength(_writeHandle!, _size);
        _reservedTo = _size;
    }

    /// <summary>
    /// Cuts the zeros reserved past the data (<see cref="ReserveAhead"/>) and forces the new length to disk, so that the
    /// file ends where its data ends before a later segment's name can survive a crash.
    /// </summary>
    public void DropReserve()
    {
        if (CutReserve())
        {
            RandomAccess.FlushToDisk(_writeHandle!);
            _fsyncedAt = _size;
        }
    }

    private bool CutReserve()
    {
        if (_writeHandle is null || _reservedTo <= _size)
        {
            return false;
        }

        RandomAccess.SetLength(_writeHandle, _size);
        _reservedTo = _size;
        return true;
    }

    /// <summary>
    /// Forces written bytes to disk: <c>fdatasync</c> on Linux (the data and the length, not the modification time,
    /// whose write would cost every sync an inode write even when the length did not change); fsync elsewhere.
    /// </summary>
    public void Flush()
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(_writeHandle!);
        }
        else if (FileSync.DataSync(_writeHandle!) != 0)
        {
            // The error number as the HResult, as .NET's own I/O errors carry it. Whatever it is, a failed sync stops the
            // partition (the written pages' state is unknown after it); reopening cuts what was not made durable.
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"fdatasync of '{LogPath}' failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }

    /// <summary>
    /// After a <see cref="Flush"/>: gives the page cache of everything but the last <paramref name="keepBytes"/> written
    /// back to the kernel (<see cref="PageCache"/>), in steps of <see cref="PageCache.ReleaseStepBytes"/>. 0 keeps all.
    /// </summary>
    public void ReleaseFlushedPages(long keepBytes)
    {
        if (keepBytes <= 0)
        {
            return;
        }

        var to = (_size - keepBytes) & ~4095L; // whole pages
        if (to - _releasedTo >= PageCache.ReleaseStepBytes)
        {
            PageCache.Release(_writeHandle!, _releasedTo, to - _releasedTo);
            _releasedTo = to;
        }
    }

    /// <summary>Makes everything written visible to readers.</summary>
    public void Publish() => Volatile.Write(ref _visibleSize, _size);

    /// <summary>
    /// Turns the active segment into a closed one: data forced to disk, indexes written whole and forced to disk (or,
    /// when even that fails, removed: a closed segment without index files is scanned from its start, and the next open
    /// rebuilds them), handles closed.
    /// </summary>
    public void Seal()
    {
        if (_writeHandle is null)
        {
            return;
        }

        // A roll has just synced the file (DropReserve) and written nothing to it since: one fsync, not two.
        if (CutReserve() || _fsyncedAt != _size)
        {
            RandomAccess.FlushToDisk(_writeHandle);
        }

        Publish();
        try
        {
            if (_indexWriteFailed)
            {
                CloseIndexStreams(flush: false);
                WriteIndexFiles(_entries.AsSpan(0, _entryCount));
            }
            else
            {
                CloseIndexStreams(flush: true);
            }
        }
        catch (IOException ex)
        {
            Log.IndexWriteFailed(_logger, IndexPath, ex.Message);
            DeleteIndexFilesQuietly();
        }

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

        try
        {
            CloseIndexStreams(flush: false);
            CutReserve();
        }
        catch (IOException)
        {
            // Closing without flushing: the index files of an active segment are rebuilt at the next open anyway, and
            // reserved zeros left behind are cut there.
        }

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

    public SafeFileHandle OpenRead()
        => _writeHandle ?? File.OpenHandle(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

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

        [LoggerMessage(EventId = StorageEventIds.IndexWriteFailed, Level = LogLevel.Warning,
            Message = "Could not write index '{File}' ({Reason}); reads of the segment scan more until it is rebuilt")]
        public static partial void IndexWriteFailed(ILogger logger, string file, string reason);
    }
}

/// <summary>The segment a reader was using was deleted or replaced meanwhile; the reader retries on a fresh view.</summary>
internal sealed class SegmentRemovedException() : IOException("segment removed during the read");
