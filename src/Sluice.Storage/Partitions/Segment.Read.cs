using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Sluice.Core.Log;
using Sluice.Storage.Format;

namespace Sluice.Storage.Partitions;

/// <summary>Reads of a segment: records by offset, the first record at a time, and the location of damage.</summary>
internal sealed partial class Segment
{
    // For sizing a read by its record count: generous for typical messages.
    private const int ExpectedRecordBytes = 1024;

    /// <summary>
    /// Reads records from <paramref name="offset"/> into <paramref name="output"/> within the visible bytes.
    /// Each batch's CRC is checked before any of its records is decoded. At bytes it cannot read (damage, known or
    /// found now) it stops: with the records read before, or, when there are none, by throwing
    /// <see cref="SegmentDamageException"/>. Known damage that lies wholly below <paramref name="offset"/> is jumped over.
    /// Throws <see cref="IndexMismatchException"/> when the index sent it to a batch other than the one it names.
    /// A batch the read stops inside is decoded whole and put in <paramref name="cache"/> (when given), where the
    /// read that continues from there finds it, unless another read is decoding it now or has cached it since (see
    /// <see cref="BatchCache.TryClaimDecode"/>): then only the records this read takes are decoded.
    /// </summary>
    public void Read(long offset, long endOffset, int maxCount, int maxBytes, List<StoredRecord> output, ref int bytes, ref long nextOffset, BatchCache? cache = null)
    {
        var limit = VisibleSize;
        var position = LookupPosition(offset, out var verify);
        if (position >= limit)
        {
            return;
        }

        var damage = Volatile.Read(ref _damage);
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
                    StopAt(position + read, "segment file is shorter than its durable size", output);
                    return;
                }

                var p = 0;
                var jumped = false;
                while (p < read)
                {
                    var batchPosition = position + p;
                    if (damage.Length > 0 && FindDamage(damage, batchPosition) is { } known)
                    {
                        if (offset >= known.ToOffset || !known.LosesRecords)
                        {
                            // Everything the reader wants lies after it.
                            position = known.ResumePosition;
                            jumped = true;
                            verify = null;
                            break;
                        }

                        StopAt(known.Position, known.Reason, output);
                        return;
                    }

                    if (read - p < RecordBatch.HeaderSize)
                    {
                        if (p == 0)
                        {
                            StopAt(batchPosition, "incomplete batch header inside the durable part of the segment", output);
                            return;
                        }

                        break;
                    }

                    var span = buffer.AsSpan(p, read - p);
                    if (!RecordBatch.TryReadHeader(span, out var header) || header.TotalSize > limit - batchPosition)
                    {
                        StopAt(batchPosition, "malformed batch header", output);
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
                        StopAt(batchPosition, "CRC-32C mismatch", output);
                        return;
                    }

                    if (verify is { } expected)
                    {
                        if (header.BaseOffset != expected)
                        {
                            throw new IndexMismatchException($"the index names offset {expected} at byte {batchPosition}, but the batch there starts at {header.BaseOffset}");
                        }

                        verify = null;
                    }

                    p += header.TotalSize;
                    if (header.NextOffset <= offset)
                    {
                        continue;
                    }

                    if (cache is not null && header.NextOffset <= endOffset && StopsInside(header, offset, maxCount - output.Count, maxBytes - bytes)
                        && cache.TryClaimDecode(header.BaseOffset))
                    {
                        StoredRecord[] records;
                        try
                        {
                            if (!TryDecodeWhole(span, header, out records))
                            {
                                StopAt(batchPosition, "records do not parse although the CRC matches", output);
                                return;
                            }

                            cache.Put(header.BaseOffset, header.NextOffset, records);
                        }
                        finally
                        {
                            cache.EndDecode(header.BaseOffset);
                        }

                        BatchCache.Take(records, header.NextOffset, offset, endOffset, maxCount, maxBytes, output, ref bytes, ref nextOffset);
                    }
                    else if (!RecordBatch.TryDecode(span, header, offset, endOffset, maxCount, maxBytes, output, ref bytes, ref nextOffset))
                    {
                        StopAt(batchPosition, "records do not parse although the CRC matches", output);
                        return;
                    }

                    if (output.Count >= maxCount || (output.Count > 0 && bytes >= maxBytes) || nextOffset >= endOffset)
                    {
                        return;
                    }
                }

                if (!jumped)
                {
                    position += p;
                }
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

    // Whether a read with room for `count` more records and `room` more bytes ends inside this batch: then the next
    // read starts inside it, and caching it saves reading and checking it again. Compaction gaps make the count an
    // estimate from above, which only means a batch is cached that need not have been.
    private static bool StopsInside(in BatchHeader header, long offset, int count, int room)
        => header.NextOffset - Math.Max(offset, header.BaseOffset) > count
        || (long)header.TotalSize - RecordBatch.HeaderSize > room;

    private static bool TryDecodeWhole(ReadOnlySpan<byte> batch, in BatchHeader header, out StoredRecord[] records)
    {
        var all = new List<StoredRecord>(header.RecordCount);
        int bytes = 0;
        long next = 0;
        var ok = RecordBatch.TryDecode(batch, header, header.BaseOffset, long.MaxValue, int.MaxValue, int.MaxValue, all, ref bytes, ref next);
        records = ok ? [.. all] : [];
        return ok;
    }

    private static DamagedSpan? FindDamage(DamagedSpan[] damage, long position)
    {
        foreach (var d in damage)
        {
            if (position >= d.Position && position < d.ResumePosition)
            {
                return d;
            }
        }

        return null;
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
    private void StopAt(long position, string reason, List<StoredRecord> output)
    {
        if (output.Count > 0)
        {
            return;
        }

        if (Removed)
        {
            throw new SegmentRemovedException();
        }

        throw new SegmentDamageException(position, reason);
    }

    /// <summary>
    /// Scans the whole segment up to <paramref name="limit"/> bytes, past damage, and returns (and from now on knows) every
    /// damaged span: from the offset after the last intact batch before it to the first intact batch after it, or to
    /// <paramref name="segmentEnd"/> (the next segment's base offset) when none follows.
    /// </summary>
    public IReadOnlyList<DamagedSpan> ScanDamage(long limit, long segmentEnd)
    {
        var handle = OpenRead();
        var owned = !ReferenceEquals(handle, _writeHandle);
        try
        {
            var damage = new List<DamagedSpan>();
            using (var scanner = new BatchScanner(handle, 0, limit, BaseOffset))
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
                        continue;
                    }

                    damage.Add(scanner.SkipDamage(segmentEnd));
                    if (scanner.AtEnd)
                    {
                        break;
                    }
                }
            }

            Volatile.Write(ref _damage, [.. damage]);
            return damage;
        }
        finally
        {
            if (owned)
            {
                handle.Dispose();
            }
        }
    }

    /// <summary>Gives damage found at open whose end was left open (nothing intact after it) the next segment's base offset.</summary>
    public void CloseDamageAt(long segmentEnd)
    {
        var damage = Volatile.Read(ref _damage);
        if (Array.Exists(damage, d => d.ToOffset == DamagedSpan.ToSegmentEnd))
        {
            Volatile.Write(ref _damage, Array.ConvertAll(damage, d => d.ToOffset == DamagedSpan.ToSegmentEnd
                ? d with { ToOffset = Math.Max(d.FromOffset, segmentEnd) }
                : d));
        }
    }

    /// <summary>
    /// The first record at or after <paramref name="timestamp"/> below <paramref name="endOffset"/>, or null. Damage met
    /// on the way is scanned past; when it may hold the record looked for, the damaged range's first offset is returned
    /// (a reader starting there learns what was lost rather than silently starting after it).
    /// </summary>
    public long? FindOffset(long timestamp, long endOffset)
    {
        var limit = VisibleSize;
        var start = LookupTimePosition(timestamp, out var verify);
        var handle = OpenRead();
        var owned = !ReferenceEquals(handle, _writeHandle);
        try
        {
            using var scanner = new BatchScanner(handle, start, limit, verify ?? BaseOffset);
            var records = new List<StoredRecord>();
            long? damagedFrom = null;
            while (true)
            {
                var result = scanner.Next();
                if (result == ScanResult.End)
                {
                    return damagedFrom;
                }

                if (result == ScanResult.Bad)
                {
                    if (verify is not null)
                    {
                        throw new IndexMismatchException($"the time index points at byte {start}, where no intact batch of offset {verify} starts");
                    }

                    damagedFrom ??= scanner.ExpectedOffset;
                    if (!scanner.Resync(endOffset))
                    {
                        return damagedFrom;
                    }

                    continue;
                }

                var header = scanner.Header;
                if (verify is { } expected && header.BaseOffset != expected)
                {
                    throw new IndexMismatchException($"the time index names offset {expected} at byte {start}, but the batch there starts at {header.BaseOffset}");
                }

                verify = null;
                if (header.BaseOffset >= endOffset)
                {
                    return damagedFrom;
                }

                if (header.MaxTimestamp < timestamp)
                {
                    // Older records after the damage: the damaged ones were older still (timestamps are mostly append times).
                    damagedFrom = null;
                    continue;
                }

                records.Clear();
                int bytes = 0;
                long next = 0;
                if (!RecordBatch.TryDecode(scanner.Batch, header, 0, endOffset, int.MaxValue, int.MaxValue, records, ref bytes, ref next))
                {
                    damagedFrom ??= header.BaseOffset;
                    continue;
                }

                foreach (var r in records)
                {
                    if (r.Timestamp.ToUnixTimeMilliseconds() >= timestamp)
                    {
                        return damagedFrom ?? r.Offset;
                    }
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

/// <summary>
/// A span of a segment file that does not hold intact batches: from byte <see cref="Position"/> to
/// <see cref="ResumePosition"/> (the next intact batch, or the end), and the offsets lost there,
/// [<see cref="FromOffset"/>, <see cref="ToOffset"/>) (empty when the bytes held no records, such as garbage between batches).
/// </summary>
internal sealed record DamagedSpan(long Position, long ResumePosition, long FromOffset, long ToOffset, string Reason)
{
    /// <summary>A <see cref="ToOffset"/> not known yet: the damage runs to the end of the segment.</summary>
    public const long ToSegmentEnd = long.MaxValue;

    public bool LosesRecords => FromOffset < ToOffset;
}

/// <summary>A read met bytes it cannot read at <see cref="Position"/> before it had read any record.</summary>
internal sealed class SegmentDamageException(long position, string reason) : IOException($"damaged batch at byte {position}: {reason}")
{
    public long Position { get; } = position;

    public string Reason { get; } = reason;
}

/// <summary>An index entry points at a batch other than the one it names: the index, not the log, is damaged.</summary>
internal sealed class IndexMismatchException(string message) : IOException(message);
