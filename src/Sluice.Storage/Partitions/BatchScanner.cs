using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Sluice.Storage.Format;

namespace Sluice.Storage.Partitions;

/// <summary>
/// Walks the record batches of a segment file in order, reading 1 MiB at a time, and reports the
/// first batch that is torn (runs past the end), malformed, out of order or fails its CRC; <see cref="Resync"/>
/// then finds the next intact batch after it, so one damaged batch does not hide the ones that follow.
/// Used by recovery, index rebuilding, damage location, time lookups and compaction.
/// </summary>
internal sealed class BatchScanner : IDisposable
{
    // 1 MiB: large enough that a scan is dominated by CRC speed, not by read calls.
    private const int ChunkBytes = 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly long _end;
    private byte[] _buffer;
    private long _bufferStart; // file position of _buffer[0]
    private int _bufferLength;
    private long _expectedMinOffset;

    public BatchScanner(SafeFileHandle handle, long start, long end, long expectedMinOffset)
    {
        _handle = handle;
        _end = end;
        Position = start;
        _bufferStart = start;
        _expectedMinOffset = expectedMinOffset;
        _buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
    }

    /// <summary>File position of the next batch (after <see cref="Next"/>, of the batch after the current one).</summary>
    public long Position { get; private set; }

    /// <summary>Position of the batch last returned.</summary>
    public long BatchPosition { get; private set; }

    /// <summary>Header of the batch last returned.</summary>
    public BatchHeader Header { get; private set; }

    /// <summary>Bytes of the batch last returned (valid until the next call).</summary>
    public ReadOnlySpan<byte> Batch => _buffer.AsSpan((int)(BatchPosition - _bufferStart), Header.TotalSize);

    /// <summary>Why <see cref="Next"/> returned <see cref="ScanResult.Bad"/>.</summary>
    public string? Problem { get; private set; }

    /// <summary>The offset after the last intact batch (or the start's expected offset): where a damaged range begins.</summary>
    public long ExpectedOffset => _expectedMinOffset;

    /// <summary>Base offset of the batch <see cref="Resync"/> found: where a damaged range ends.</summary>
    public long ResyncOffset { get; private set; }

    public ScanResult Next()
    {
        if (Position >= _end)
        {
            return ScanResult.End;
        }

        if (!Ensure(RecordBatch.HeaderSize))
        {
            return Bad($"incomplete batch header: {_end - Position} bytes left in the file");
        }

        var span = _buffer.AsSpan((int)(Position - _bufferStart));
        if (!RecordBatch.TryReadHeader(span, out var header))
        {
            return Bad("malformed batch header");
        }

        if (header.TotalSize > _end - Position)
        {
            return Bad($"batch of {header.TotalSize} bytes runs past the end of the file ({_end - Position} bytes left)");
        }

        if (header.BaseOffset < _expectedMinOffset)
        {
            return Bad($"batch base offset {header.BaseOffset} is below the expected {_expectedMinOffset}");
        }

        if (!Ensure(header.TotalSize))
        {
            return Bad("batch does not fit in memory");
        }

        span = _buffer.AsSpan((int)(Position - _bufferStart), header.TotalSize);
        if (!RecordBatch.CrcMatches(span, header))
        {
            return Bad("CRC-32C mismatch");
        }

        Header = header;
        BatchPosition = Position;
        Position += header.TotalSize;
        _expectedMinOffset = header.NextOffset;
        return ScanResult.Batch;
    }

    /// <summary>
    /// After <see cref="Next"/> returned <see cref="ScanResult.Bad"/> at <see cref="Position"/>: moves to the first later
    /// position where a whole batch starts whose CRC matches and whose base offset is at least <see cref="ExpectedOffset"/>
    /// and below <paramref name="maxOffset"/>, and returns true (<see cref="Next"/> returns that batch). Returns false, at
    /// the end, when no such batch follows. Byte by byte: a damaged length field says nothing about where the next batch
    /// is. A false match needs 32 CRC bits and a plausible header and offset to agree by chance.
    /// </summary>
    public bool Resync(long maxOffset = long.MaxValue)
    {
        for (var candidate = Position + 1; candidate <= _end - RecordBatch.HeaderSize; candidate++)
        {
            Position = candidate;
            if (!Ensure(RecordBatch.HeaderSize))
            {
                break;
            }

            var span = _buffer.AsSpan((int)(Position - _bufferStart));
            if (span[RecordBatch.CrcStart] != RecordBatch.Version || !RecordBatch.TryReadHeader(span, out var header)
                || header.BaseOffset < _expectedMinOffset || header.BaseOffset >= maxOffset || header.TotalSize > _end - Position
                || !Ensure(header.TotalSize))
            {
                continue;
            }

            if (RecordBatch.CrcMatches(_buffer.AsSpan((int)(Position - _bufferStart), header.TotalSize), header))
            {
                ResyncOffset = header.BaseOffset;
                return true;
            }
        }

        Position = _end;
        return false;
    }

    /// <summary>True once the scan has reached the end of its range.</summary>
    public bool AtEnd => Position >= _end;

    /// <summary>
    /// After <see cref="Next"/> returned <see cref="ScanResult.Bad"/>: the damaged span from the bad batch to the next
    /// intact one (which <see cref="Next"/> returns next), or, when none follows (<see cref="AtEnd"/>), to the end of the
    /// range, its lost offsets then ending at <paramref name="endOffset"/> (unknown: <see cref="DamagedSpan.ToSegmentEnd"/>).
    /// </summary>
    public DamagedSpan SkipDamage(long endOffset = DamagedSpan.ToSegmentEnd)
    {
        var position = Position;
        var from = _expectedMinOffset;
        var reason = Problem!;
        return Resync(endOffset)
            ? new DamagedSpan(position, Position, from, ResyncOffset, reason)
            : new DamagedSpan(position, _end, from, endOffset == DamagedSpan.ToSegmentEnd ? endOffset : Math.Max(from, endOffset), reason);
    }

    private ScanResult Bad(string problem)
    {
        Problem = problem;
        return ScanResult.Bad;
    }

    // Makes [Position, Position + count) present in the buffer, reading more of the file when needed.
    private bool Ensure(int count)
    {
        var offsetInBuffer = Position - _bufferStart;
        if (offsetInBuffer + count <= _bufferLength)
        {
            return true;
        }

        if (count > 512 * 1024 * 1024)
        {
            return false;
        }

        if (count > _buffer.Length)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(count);
        }

        _bufferStart = Position;
        var want = (int)Math.Min(_buffer.Length, _end - Position);
        var read = 0;
        while (read < want)
        {
            var n = RandomAccess.Read(_handle, _buffer.AsSpan(read, want - read), Position + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        _bufferLength = read;
        return count <= read;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}

internal enum ScanResult
{
    End,
    Batch,
    Bad,
}
