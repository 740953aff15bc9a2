using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;
using Sluice.Core.Log;
using Sluice.Storage.Format;

namespace Sluice.Storage.Partitions;

/// <summary>Retention (whole old segments) and compaction (newest record per key) of a partition.</summary>
internal sealed partial class PartitionLog
{

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
            _corrupt.PruneBelow(StartOffset);
            _batches?.Trim(TailCacheIdleMs, StartOffset);
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

    /// <summary>Deletes the closed segments whose records all lie below <paramref name="offset"/>; returns how many.</summary>
    public async Task<int> DeleteSegmentsBelowAsync(long offset, CancellationToken cancellationToken)
    {
        await _maintenanceLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _readError) is not null)
            {
                return 0; // closed or deleted meanwhile
            }

            List<Segment> doomed = [];
            _swapLock.EnterWriteLock();
            try
            {
                lock (_segmentsLock)
                {
                    var segments = _segments;
                    var count = 0;

                    // Never the active (last) segment; a segment ends where the next begins.
                    while (count < segments.Length - 1 && segments[count + 1].BaseOffset <= offset)
                    {
                        doomed.Add(segments[count]);
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
            finally
            {
                _swapLock.ExitWriteLock();
            }

            _corrupt.PruneBelow(StartOffset);
            foreach (var s in doomed)
            {
                Log.SegmentTrimmed(_logger, Topic.ToString(), Partition, s.LogPath, offset, _segments[0].BaseOffset);
            }

            return doomed.Count;
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
        string? damage = null;
        try
        {
            using var output = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1024 * 1024);
            using var handle = segment.OpenRead();
            using var scanner = new BatchScanner(handle, 0, segment.VisibleSize, segment.BaseOffset);
            var records = new List<StoredRecord>();
            var entries = new List<RecordEntry>();
            ScanResult result;
            while ((result = scanner.Next()) == ScanResult.Batch)
            {
                var header = scanner.Header;
                records.Clear();
                entries.Clear();
                int bytes = 0;
                long next = 0;
                if (!RecordBatch.TryDecode(scanner.Batch, header, 0, long.MaxValue, int.MaxValue, int.MaxValue, records, ref bytes, ref next))
                {
                    damage = $"records at byte {scanner.BatchPosition} do not parse although the CRC matches";
                    break;
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

            if (result == ScanResult.Bad)
            {
                damage ??= $"{scanner.Problem} at byte {scanner.Position}";
            }

            if (damage is null)
            {
                output.Flush(flushToDisk: true);
            }
        }
        catch
        {
            File.Delete(tmp); // a full disk must not keep a half-written copy
            throw;
        }

        if (damage is not null)
        {
            // A rewrite would turn the damage into a silent gap: the segment stays as it is, and its readers are told.
            File.Delete(tmp);
            Log.CompactionSkipped(_logger, Topic.ToString(), Partition, segment.LogPath, damage);
            return;
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

            // No read can fill the caches again from the old file: reads hold _swapLock shared for their whole length,
            // their cache puts included, and this runs under it exclusively.
            _tail?.Clear();
            _batches?.Clear();
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
            while (true)
            {
                var result = scanner.Next();
                if (result == ScanResult.End || (result == ScanResult.Bad && !scanner.Resync()))
                {
                    break;
                }

                if (result == ScanResult.Bad)
                {
                    continue; // past the damage: the keys after it count too
                }

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
}
