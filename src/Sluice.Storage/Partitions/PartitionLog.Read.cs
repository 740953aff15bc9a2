using Sluice.Core.Log;

namespace Sluice.Storage.Partitions;

/// <summary>Reads of a partition: by offset and by time, and what a read does when it meets damage.</summary>
internal sealed partial class PartitionLog
{
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

    // Each damaged segment costs a read one more attempt (the first meeting scans it whole), as does each index repaired.
    private const int MaxReadAttempts = 16;

    private ReadResult ReadLocked(long offset, int maxCount, int maxBytes)
    {
        for (var attempt = 0; ; attempt++)
        {
            ThrowIfClosedForReads();
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

            if (_corrupt.Find(offset) is { } known)
            {
                throw Corrupt(known);
            }

            if (_tail?.TryRead(offset, end, maxCount, maxBytes) is { } cached)
            {
                return cached;
            }

            if (_batches?.TryRead(offset, end, maxCount, maxBytes) is { } inBatch)
            {
                _tail?.Offer(offset, inBatch.NextOffset, end, inBatch.Records);
                return inBatch;
            }

            // No more than the offsets left before the end (a reader near the tail asks for far more than there is).
            var output = new List<StoredRecord>((int)Math.Clamp(Math.Min(maxCount, end - offset), 1, 1024));
            Segment? segment = null;
            var next = offset;
            try
            {
                var bytes = 0;
                for (var i = FindSegment(segments, offset); i < segments.Length && output.Count == 0 && next < end; i++)
                {
                    segment = segments[i];
                    next = Math.Max(next, segment.BaseOffset);
                    segment.Read(next, end, maxCount, maxBytes, output, ref bytes, ref next, _batches);
                    if (segment.Removed)
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
            catch (SegmentDamageException damage) when (attempt < MaxReadAttempts)
            {
                // Bytes this read cannot use: find out what they cost (once per damaged segment), then either read on
                // past them (the reader wants later offsets) or tell the reader exactly which offsets are lost.
                var span = ResolveDamage(segment!, damage.Position);
                if (span is null)
                {
                    // The log scans clean there: the read was sent to the wrong place by a damaged index.
                    if (!segment!.IsActive)
                    {
                        segment.RepairIndexes($"a read found no intact batch at byte {damage.Position}, where the index pointed ({damage.Reason})");
                    }
                }
                else if (next < span.ToOffset && span.LosesRecords)
                {
                    throw Corrupt(_corrupt.Find(Math.Max(next, span.FromOffset)) ?? ToRange(segment!, span));
                }
            }
            catch (IndexMismatchException mismatch) when (attempt < MaxReadAttempts)
            {
                segment!.RepairIndexes(mismatch.Message);
            }
            catch (Exception ex) when (attempt < MaxReadAttempts && ex is SegmentRemovedException or FileNotFoundException or ObjectDisposedException)
            {
                // Retention or compaction replaced a segment under us: retry on the new list.
            }
        }
    }

    private CorruptRecordsException Corrupt(CorruptRange range)
        => new(Topic, Partition, range.FromOffset, range.ToOffset, range.Reason);

    private CorruptRange ToRange(Segment segment, DamagedSpan span)
        => new(span.FromOffset, span.ToOffset, $"{span.Reason} in segment {Segment.FileStem(segment.BaseOffset)} at byte {span.Position}", _time.GetUtcNow());

    // The damaged span of `segment` holding `position`, scanning the segment whole the first time it is met (and
    // registering every damaged range found); null when the segment has no damage there.
    private DamagedSpan? ResolveDamage(Segment segment, long position)
    {
        lock (_damageGate)
        {
            if (Known(segment, position) is { } known)
            {
                return known;
            }

            IReadOnlyList<DamagedSpan> spans;
            if (segment.IsActive)
            {
                // The writer is held off: the scan needs the written size and next offset to agree.
                _writeLock.Wait();
                try
                {
                    spans = segment.IsActive ? segment.ScanDamage(segment.Size, segment.NextOffset) : ScanClosed(segment);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            else
            {
                spans = ScanClosed(segment);
            }

            foreach (var span in spans)
            {
                Register(segment, span);
            }

            return Known(segment, position);
        }

        static DamagedSpan? Known(Segment segment, long position)
            => segment.Damage.FirstOrDefault(d => position >= d.Position && position < d.ResumePosition);
    }

    private IReadOnlyList<DamagedSpan> ScanClosed(Segment segment)
    {
        var segments = Volatile.Read(ref _segments);
        var index = Array.IndexOf(segments, segment);
        if (index < 0 || index == segments.Length - 1)
        {
            throw new SegmentRemovedException();
        }

        return segment.ScanDamage(segment.VisibleSize, segments[index + 1].BaseOffset);
    }

    private void Register(Segment segment, DamagedSpan span)
    {
        if (span.LosesRecords && span.ToOffset != DamagedSpan.ToSegmentEnd)
        {
            Register(ToRange(segment, span), segment.LogPath, span.Position, span.Reason);
        }
    }

    private void Register(CorruptRange range, string file, long position, string? reason = null)
    {
        if (_corrupt.Add(range))
        {
            Log.CorruptRangeFound(_logger, Topic.ToString(), Partition, range.FromOffset, range.ToOffset - 1, file, position, reason ?? range.Reason);
            StorageMetrics.OnCorrupt(Topic, Partition, range.ToOffset - range.FromOffset);
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
            ThrowIfClosedForReads();
            var end = EndOffset;
            var segments = Volatile.Read(ref _segments);
            Segment? current = null;
            try
            {
                foreach (var segment in segments)
                {
                    current = segment;
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
            catch (IndexMismatchException mismatch) when (attempt < MaxReadAttempts)
            {
                current!.RepairIndexes(mismatch.Message);
            }
            catch (Exception ex) when (attempt < MaxReadAttempts && ex is SegmentRemovedException or FileNotFoundException or ObjectDisposedException)
            {
            }
        }
    }

    public ValueTask WaitForDataAsync(long offset, CancellationToken cancellationToken)
    {
        ThrowIfClosedForReads();
        return EndOffset > offset ? ValueTask.CompletedTask : _readers.WaitAsync(offset, cancellationToken);
    }

    private void ThrowIfClosedForReads()
    {
        if (Volatile.Read(ref _readError) is not null)
        {
            throw ReadClosedError();
        }
    }

    // What a read of a closed partition fails with: a new exception each time (readers on many threads throw it).
    private Exception ReadClosedError() => Volatile.Read(ref _readError) is TopicNotFoundException deleted
        ? new TopicNotFoundException(deleted.Topic)
        : new ObjectDisposedException("EmbeddedLog", "the log is closed");

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

        var corrupt = _corrupt.Ranges;
        return new PartitionInfo(Partition, segments[0].BaseOffset, end, bytes,
            oldest == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(oldest),
            newest == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(newest),
            corrupt.Count == 0 ? null : corrupt);
    }

    /// <summary>What an operator should know about this partition's storage: damaged ranges, no space for appends.</summary>
    public void AddProblems(List<LogProblem> problems)
    {
        var corrupt = _corrupt.Ranges;
        if (corrupt.Count > 0)
        {
            var offsets = corrupt.Sum(r => r.ToOffset - r.FromOffset);
            var first = corrupt[0];
            problems.Add(new LogProblem(Topic, Partition, "corrupt-records",
                $"{offsets} offsets in {corrupt.Count} damaged range(s) are not served, the first {first.FromOffset}..{first.ToOffset - 1} ({first.Reason})"));
        }

        if (Volatile.Read(ref _fullSinceMs) is var since and not 0)
        {
            problems.Add(new LogProblem(Topic, Partition, "storage-full",
                $"no space left since {DateTimeOffset.FromUnixTimeMilliseconds(since):O}: appends fail until space is freed"));
        }
    }
}
