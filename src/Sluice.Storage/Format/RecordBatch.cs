using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Sluice.Core.Log;

namespace Sluice.Storage.Format;

/// <summary>
/// The on-disk record batch, version 1. Frozen: a change here needs a new version byte, and the
/// golden test (<c>RecordBatchFormatTests</c>) pins the bytes. All integers little-endian.
/// <code>
///  0  int64  base offset         (set by the partition writer when it assigns offsets)
///  8  int32  batch length        bytes after this field
/// 12  uint32 CRC-32C             of bytes 16 .. end, then of bytes 0 .. 7 (the base offset): the
///                                 appender checksums the body; the writer only adds 8 bytes
///                                 once it knows the offset, and a damaged offset is still caught
/// 16  byte   format version (1)
/// 17  byte   attributes (0)
/// 18  int32  last offset delta   gaps appear after compaction, so not always count - 1
/// 22  int32  record count
/// 26  int64  first timestamp     Unix ms
/// 34  int64  max timestamp       Unix ms
/// 42  records: varint length, then
///            zigzag timestamp delta, varint offset delta,
///            zigzag key length (-1 = null key), key,
///            zigzag value length (-1 = tombstone), value,
///            varint header count, each: varint length + UTF-8 name, varint length + UTF-8 value
/// </code>
/// </summary>
internal static class RecordBatch
{
    public const int HeaderSize = 42;
    public const byte Version = 1;
    public const int BaseOffsetOffset = 0;
    public const int LengthOffset = 8;
    public const int CrcOffset = 12;
    public const int CrcStart = 16;
    public const int LogOverhead = 12; // base offset + length: the bytes not counted in batch length

    /// <summary>Bytes the record takes inside a batch, excluding its own length prefix.</summary>
    public static int RecordBodySize(in RecordEntry r, long firstTimestamp)
    {
        var size = Varint.SizeOfSigned(r.Timestamp - firstTimestamp) + Varint.SizeOf((ulong)r.OffsetDelta);
        size += r.Key is { } k ? Varint.SizeOfSigned(k.Length) + k.Length : 1;
        size += r.Value is { } v ? Varint.SizeOfSigned(v.Length) + v.Length : 1;
        var headers = r.Headers;
        var count = headers?.Count ?? 0;
        size += Varint.SizeOf((ulong)count);
        for (var i = 0; i < count; i++)
        {
            var (name, value) = headers![i];
            var n = Encoding.UTF8.GetByteCount(name);
            var m = Encoding.UTF8.GetByteCount(value);
            size += Varint.SizeOf((ulong)n) + n + Varint.SizeOf((ulong)m) + m;
        }

        return size;
    }

    /// <summary>
    /// Encodes records into a pooled buffer (the caller returns it to <see cref="ArrayPool{T}.Shared"/>).
    /// Validates every record against <paramref name="maxRecordBytes"/> before writing anything.
    /// </summary>
    public static EncodedBatch Encode(ReadOnlySpan<RecordEntry> records, long baseOffset, int maxRecordBytes)
    {
        if (records.IsEmpty)
        {
            throw new ArgumentException("a batch holds at least one record", nameof(records));
        }

        var first = records[0].Timestamp;
        var max = long.MinValue;
        long total = HeaderSize;
        foreach (ref readonly var r in records)
        {
            var body = RecordBodySize(r, first);
            if (body > maxRecordBytes)
            {
                throw new RecordTooLargeException(body, maxRecordBytes);
            }

            total += Varint.SizeOf((ulong)body) + body;
            max = Math.Max(max, r.Timestamp);
        }

        if (total > int.MaxValue / 2)
        {
            throw new RecordTooLargeException(total, int.MaxValue / 2);
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)total);
        var span = buffer.AsSpan(0, (int)total);
        var pos = HeaderSize;
        foreach (ref readonly var r in records)
        {
            var body = RecordBodySize(r, first);
            pos += Varint.Write(span[pos..], (ulong)body);
            pos += Varint.WriteSigned(span[pos..], r.Timestamp - first);
            pos += Varint.Write(span[pos..], (ulong)r.OffsetDelta);
            pos += WriteBytes(span[pos..], r.Key);
            pos += WriteBytes(span[pos..], r.Value);
            var headers = r.Headers;
            var count = headers?.Count ?? 0;
            pos += Varint.Write(span[pos..], (ulong)count);
            for (var i = 0; i < count; i++)
            {
                var (name, value) = headers![i];
                pos += WriteString(span[pos..], name);
                pos += WriteString(span[pos..], value);
            }
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[LengthOffset..], (int)total - LogOverhead);
        span[16] = Version;
        span[17] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(span[18..], records[^1].OffsetDelta);
        BinaryPrimitives.WriteInt32LittleEndian(span[22..], records.Length);
        BinaryPrimitives.WriteInt64LittleEndian(span[26..], first);
        BinaryPrimitives.WriteInt64LittleEndian(span[34..], max);
        var bodyCrc = Crc32C.Append(0xFFFFFFFFu, span[CrcStart..]);
        SetBaseOffset(span, baseOffset, bodyCrc);
        return new EncodedBatch(buffer, (int)total, records.Length, records[^1].OffsetDelta, first, max, bodyCrc);
    }

    /// <summary>Writes the base offset and completes the CRC from the body's running CRC (8 bytes of work).</summary>
    public static void SetBaseOffset(Span<byte> batch, long baseOffset, uint bodyCrc)
    {
        BinaryPrimitives.WriteInt64LittleEndian(batch, baseOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(batch[CrcOffset..], ~Crc32C.Append(bodyCrc, batch[..8]));
    }

    private static int WriteBytes(Span<byte> destination, ReadOnlyMemory<byte>? bytes)
    {
        if (bytes is not { } b)
        {
            return Varint.WriteSigned(destination, -1);
        }

        var n = Varint.WriteSigned(destination, b.Length);
        b.Span.CopyTo(destination[n..]);
        return n + b.Length;
    }

    private static int WriteString(Span<byte> destination, string s)
    {
        var count = Encoding.UTF8.GetByteCount(s);
        var n = Varint.Write(destination, (ulong)count);
        return n + Encoding.UTF8.GetBytes(s, destination[n..]);
    }

    /// <summary>Reads the fixed header; false when fewer than <see cref="HeaderSize"/> bytes or the fields are impossible.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> source, out BatchHeader header)
    {
        header = default;
        if (source.Length < HeaderSize)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(source[LengthOffset..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(source[22..]);
        var lastDelta = BinaryPrimitives.ReadInt32LittleEndian(source[18..]);
        if (length < HeaderSize - LogOverhead || source[16] != Version || count <= 0 || lastDelta < count - 1)
        {
            header = new BatchHeader(0, length, 0, 0, 0, 0, 0, Valid: false);
            return false;
        }

        header = new BatchHeader(
            BinaryPrimitives.ReadInt64LittleEndian(source),
            length,
            BinaryPrimitives.ReadUInt32LittleEndian(source[CrcOffset..]),
            lastDelta,
            count,
            BinaryPrimitives.ReadInt64LittleEndian(source[26..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[34..]),
            Valid: true);
        return true;
    }

    /// <summary>True when the CRC of a whole batch (header included) matches.</summary>
    public static bool CrcMatches(ReadOnlySpan<byte> batch, in BatchHeader header)
        => header.TotalSize <= batch.Length
        && ~Crc32C.Append(Crc32C.Append(0xFFFFFFFFu, batch[CrcStart..header.TotalSize]), batch[..8]) == header.Crc;

    /// <summary>
    /// Decodes the records of a CRC-verified batch whose offset is at least <paramref name="minOffset"/> and
    /// below <paramref name="endOffset"/> into <paramref name="output"/>, copying keys and values, until
    /// <paramref name="maxCount"/> records or about <paramref name="maxBytes"/> bytes (at least one record).
    /// <paramref name="nextOffset"/> becomes the offset after the last record consumed (the batch's next offset
    /// when it was consumed whole, so compaction gaps are skipped). Returns false when the records do not parse.
    /// </summary>
    public static bool TryDecode(
        ReadOnlySpan<byte> batch, in BatchHeader header, long minOffset, long endOffset, int maxCount, int maxBytes,
        List<StoredRecord> output, ref int bytes, ref long nextOffset)
    {
        var span = batch[..header.TotalSize];
        var pos = HeaderSize;
        for (var i = 0; i < header.RecordCount; i++)
        {
            if (!Varint.TryRead(span, ref pos, out var bodyLength) || bodyLength > (ulong)(span.Length - pos))
            {
                return false;
            }

            var bodyEnd = pos + (int)bodyLength;
            var body = span[..bodyEnd];
            if (!Varint.TryReadSigned(body, ref pos, out var tsDelta) || !Varint.TryRead(body, ref pos, out var offsetDelta)
                || offsetDelta > (ulong)header.LastOffsetDelta)
            {
                return false;
            }

            var offset = header.BaseOffset + (long)offsetDelta;
            if (offset < minOffset)
            {
                pos = bodyEnd;
                continue;
            }

            if (offset >= endOffset || output.Count >= maxCount || (output.Count > 0 && bytes >= maxBytes))
            {
                return true;
            }

            if (!TryReadBytes(body, ref pos, out var key) || !TryReadBytes(body, ref pos, out var value)
                || !Varint.TryRead(body, ref pos, out var headerCount) || headerCount > (ulong)(bodyEnd - pos))
            {
                return false;
            }

            IReadOnlyList<KeyValuePair<string, string>> headers = [];
            if (headerCount > 0)
            {
                var list = new KeyValuePair<string, string>[(int)headerCount];
                for (var h = 0; h < list.Length; h++)
                {
                    if (!TryReadString(body, ref pos, out var name) || !TryReadString(body, ref pos, out var val))
                    {
                        return false;
                    }

                    list[h] = new(name, val);
                }

                headers = list;
            }

            if (pos != bodyEnd)
            {
                return false;
            }

            output.Add(new StoredRecord(offset, DateTimeOffset.FromUnixTimeMilliseconds(header.FirstTimestamp + tsDelta), key, value, headers));
            bytes += (int)bodyLength;
            nextOffset = offset + 1;
        }

        nextOffset = Math.Max(nextOffset, header.NextOffset);
        return true;
    }

    private static bool TryReadBytes(ReadOnlySpan<byte> body, ref int pos, out ReadOnlyMemory<byte>? bytes)
    {
        bytes = null;
        if (!Varint.TryReadSigned(body, ref pos, out var length) || length < -1 || length > body.Length - pos)
        {
            return false;
        }

        if (length >= 0)
        {
            // A copy per record: a reader keeping one record must not pin a whole read buffer.
            bytes = length == 0 ? ReadOnlyMemory<byte>.Empty : body.Slice(pos, (int)length).ToArray();
            pos += (int)length;
        }

        return true;
    }

    private static bool TryReadString(ReadOnlySpan<byte> body, ref int pos, out string value)
    {
        value = "";
        if (!Varint.TryRead(body, ref pos, out var length) || length > (ulong)(body.Length - pos))
        {
            return false;
        }

        value = Encoding.UTF8.GetString(body.Slice(pos, (int)length));
        pos += (int)length;
        return true;
    }
}

/// <summary>One record to encode; <see cref="Timestamp"/> in Unix ms, <see cref="OffsetDelta"/> from the batch's base offset.</summary>
internal readonly record struct RecordEntry(
    int OffsetDelta,
    long Timestamp,
    ReadOnlyMemory<byte>? Key,
    ReadOnlyMemory<byte>? Value,
    IReadOnlyList<KeyValuePair<string, string>>? Headers);

/// <summary>An encoded batch in a buffer rented from <see cref="ArrayPool{T}.Shared"/>.</summary>
internal readonly record struct EncodedBatch(byte[] Buffer, int Length, int Count, int LastOffsetDelta, long FirstTimestamp, long MaxTimestamp, uint BodyCrc);

/// <summary>The fixed fields of a batch.</summary>
internal readonly record struct BatchHeader(
    long BaseOffset, int Length, uint Crc, int LastOffsetDelta, int RecordCount, long FirstTimestamp, long MaxTimestamp, bool Valid)
{
    public int TotalSize => Length + RecordBatch.LogOverhead;

    public long LastOffset => BaseOffset + LastOffsetDelta;

    public long NextOffset => BaseOffset + LastOffsetDelta + 1;
}
