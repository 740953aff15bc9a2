using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Sluice.Storage.Partitions;

/// <summary>The sparse offset and time indexes of a segment: checks, rebuilds and lookups.</summary>
internal sealed partial class Segment
{
    private readonly Lock _rebuildGate = new();

    // The Unix milliseconds a DateTimeOffset can hold: what a time index entry of any batch lies within.
    private static readonly long EarliestTimestamp = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
    private static readonly long LatestTimestamp = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    // Returns why the index files cannot be trusted, or null, with the last entry's position, relative offset and timestamp.
    private string? CheckIndexes(long logLength, out long lastPosition, out long lastRelative, out long lastTimestamp)
    {
        lastPosition = 0;
        lastRelative = 0;
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

            if (ts != long.MinValue && (ts < EarliestTimestamp || ts > LatestTimestamp))
            {
                // Increasing, yet no date: a flipped high byte. Believed, it would become the segment's newest timestamp.
                // (long.MinValue is written: the running max before the first intact batch, when damage precedes it.)
                return $"index entry {i} holds a timestamp outside any date";
            }

            previousRel = rel;
            previousPos = pos;
            previousTs = ts;
        }

        lastPosition = previousPos;
        lastRelative = Math.Max(0, previousRel);
        lastTimestamp = previousTs;
        return null;
    }

    /// <summary>
    /// Rewrites the index files of a closed segment from a scan of its log (past damage), when a read found that they
    /// point somewhere else than they say. Readers meanwhile see the old files or the new ones, never a mix (renames).
    /// </summary>
    public void RepairIndexes(string reason)
    {
        lock (_rebuildGate)
        {
            Log.IndexRebuilt(_logger, IndexPath, reason);
            using var handle = File.OpenHandle(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            RebuildIndexes(handle, VisibleSize);
        }
    }

    // Scans the whole log (past damage, which it records), writes both index files whole, and sets the segment's
    // offsets and timestamps from the scan. Writing the files is best effort: without them reads scan from the start.
    private void RebuildIndexes(SafeFileHandle handle, long length)
    {
        var entries = new List<IndexEntry>();
        var damage = new List<DamagedSpan>();
        long lastIndexed = 0, runningMax = long.MinValue, first = long.MinValue, next = BaseOffset;
        using (var scanner = new BatchScanner(handle, 0, length, BaseOffset))
        {
            while (true)
            {
                var result = scanner.Next();
                if (result == ScanResult.End)
                {
                    break;
                }

                if (result == ScanResult.Batch)
                {
                    var header = scanner.Header;
                    if (scanner.BatchPosition - lastIndexed >= _indexInterval)
                    {
                        entries.Add(new IndexEntry((int)(header.BaseOffset - BaseOffset), (int)scanner.BatchPosition, runningMax));
                        lastIndexed = scanner.BatchPosition;
                    }

                    first = first == long.MinValue ? header.FirstTimestamp : first;
                    runningMax = Math.Max(runningMax, header.MaxTimestamp);
                    next = header.NextOffset;
                    continue;
                }

                var span = scanner.SkipDamage();
                Log.CorruptBatch(_logger, LogPath, span.Position, span.Reason);
                damage.Add(span);
                if (scanner.AtEnd)
                {
                    break;
                }
            }
        }

        Volatile.Write(ref _damage, [.. damage]);
        Volatile.Write(ref _firstTimestamp, first);
        Volatile.Write(ref _maxTimestamp, runningMax);
        Volatile.Write(ref _nextOffset, Math.Max(Volatile.Read(ref _nextOffset), next));
        try
        {
            WriteIndexFiles(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(entries));
        }
        catch (IOException ex)
        {
            Log.IndexWriteFailed(_logger, IndexPath, ex.Message);
            DeleteIndexFilesQuietly();
        }
    }

    // Both files written to temporary names, forced to disk, then renamed into place (the time index last).
    private void WriteIndexFiles(ReadOnlySpan<IndexEntry> entries)
    {
        var index = new byte[entries.Length * IndexEntryBytes];
        var timeIndex = new byte[entries.Length * TimeIndexEntryBytes];
        for (var i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(index.AsSpan(i * IndexEntryBytes), entries[i].RelativeOffset);
            BinaryPrimitives.WriteInt32LittleEndian(index.AsSpan(i * IndexEntryBytes + 4), entries[i].Position);
            BinaryPrimitives.WriteInt64LittleEndian(timeIndex.AsSpan(i * TimeIndexEntryBytes), entries[i].Timestamp);
            BinaryPrimitives.WriteInt32LittleEndian(timeIndex.AsSpan(i * TimeIndexEntryBytes + 8), entries[i].RelativeOffset);
        }

        WriteWhole(IndexPath, index);
        WriteWhole(TimeIndexPath, timeIndex);
        DirectorySync.Flush(Path.GetDirectoryName(LogPath)!);

        static void WriteWhole(string path, byte[] bytes)
        {
            var tmp = path + ".tmp";
            try
            {
                using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    stream.Write(bytes);
                    stream.Flush(flushToDisk: true);
                }

                File.Move(tmp, path, overwrite: true);
            }
            catch
            {
                try
                {
                    File.Delete(tmp);
                }
                catch (IOException)
                {
                    // A leftover temporary file is deleted at the next open of the partition.
                }

                throw;
            }
        }
    }

    private void DeleteIndexFilesQuietly()
    {
        try
        {
            File.Delete(IndexPath);
            File.Delete(TimeIndexPath);
        }
        catch (IOException)
        {
            // Then they stay: open checks them, and reads verify every index lookup against the batch it finds.
        }
    }

    private void OpenIndexStreams(FileMode mode)
    {
        // 4 KiB buffers: entries are small and the files are rebuilt if a crash loses the tail.
        _indexStream = new FileStream(IndexPath, mode, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096);
        _timeIndexStream = new FileStream(TimeIndexPath, mode, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096);
    }

    private void CloseIndexStreams(bool flush)
    {
        var index = _indexStream;
        var timeIndex = _timeIndexStream;
        _indexStream = null;
        _timeIndexStream = null;
        try
        {
            if (flush)
            {
                index?.Flush(flushToDisk: true);
                timeIndex?.Flush(flushToDisk: true);
            }
        }
        finally
        {
            // Each disposed even when the other (or the flush) fails: a full disk must not leak handles.
            try
            {
                index?.Dispose();
            }
            finally
            {
                timeIndex?.Dispose();
            }
        }
    }

    private void OnIndexWriteFailed(IOException exception)
    {
        _indexWriteFailed = true;
        Log.IndexWriteFailed(_logger, IndexPath, exception.Message);
        try
        {
            CloseIndexStreams(flush: false);
        }
        catch (IOException)
        {
            // The buffered entries are dropped; Seal writes the index from memory.
        }
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

    /// <summary>
    /// File position of the last indexed batch at or before <paramref name="offset"/> (0 when none).
    /// <paramref name="expectedBase"/> is the offset the index file says that batch starts at, for the reader to verify
    /// (a flipped bit in an index file must not make a read skip records); null when there is nothing to verify.
    /// </summary>
    public long LookupPosition(long offset, out long? expectedBase)
    {
        expectedBase = null;
        var rel = offset - BaseOffset;
        if (rel <= 0)
        {
            return 0;
        }

        var count = Volatile.Read(ref _entryCount);
        var entries = Volatile.Read(ref _entries);
        if (entries is not null)
        {
            // The active segment's index, built in memory from batches as they were written or scanned.
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

        if (LookupFile(IndexPath, IndexEntryBytes, e => BinaryPrimitives.ReadInt32LittleEndian(e) <= rel) is not { } entry)
        {
            return 0;
        }

        var entryRel = BinaryPrimitives.ReadInt32LittleEndian(entry);
        expectedBase = BaseOffset + entryRel;
        return BinaryPrimitives.ReadInt32LittleEndian(entry.AsSpan(4));
    }

    /// <summary>
    /// File position from which a scan finds the first record with a timestamp at or after <paramref name="timestamp"/>,
    /// with the offset the batch there should start at (see <see cref="LookupPosition"/>).
    /// </summary>
    public long LookupTimePosition(long timestamp, out long? expectedBase)
    {
        expectedBase = null;
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

        if (LookupFile(TimeIndexPath, TimeIndexEntryBytes, e => BinaryPrimitives.ReadInt64LittleEndian(e) < timestamp) is not { } entry)
        {
            return 0;
        }

        var rel = BinaryPrimitives.ReadInt32LittleEndian(entry.AsSpan(8));
        return rel <= 0 ? 0 : LookupPosition(BaseOffset + rel, out expectedBase);
    }

    // Binary search over a file of fixed-size entries with positioned reads: no index is held in memory. Returns the
    // last entry for which isAtOrBefore holds, or null.
    private static byte[]? LookupFile(string path, int entryBytes, Func<ReadOnlySpan<byte>, bool> isAtOrBefore)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return null; // deleted by retention meanwhile, or never written: a scan from the start is always correct
        }

        using (handle)
        {
            var entry = new byte[entryBytes];
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
                return null;
            }

            return entry;
        }
    }
}
