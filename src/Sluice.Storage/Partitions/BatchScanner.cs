using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Sluice.Storage.Format;

namespace Sluice.Storage.Partitions;

/// <summary>
/// Walks the record batches of a segment file in order, reading 1 MiB at a time, and reports the
/// first batch that is torn (runs past the end), malformed, out of order or fails its CRC.
/// Used by recovery, index rebuilding, time lookups and compaction.
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
