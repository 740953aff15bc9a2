using System.Buffers;
using System.Text;
using Sluice.Core.Log;
using Sluice.Storage.Format;

namespace Sluice.Storage.Tests;

public sealed class Crc32CTests
{
    [Fact]
    public void Compute_StandardCheckVector_MatchesCastagnoliValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }

    [Fact]
    public void Compute_InPieces_EqualsWholeComputation()
    {
        var data = new byte[1000];
        new Random(7).NextBytes(data);
        var running = Crc32C.Append(0xFFFFFFFFu, data.AsSpan(0, 333));
        running = Crc32C.Append(running, data.AsSpan(333));
        Assert.Equal(Crc32C.Compute(data), ~running);
    }

    [Fact]
    public void Compute_EmptyInput_IsZero()
    {
        Assert.Equal(0u, Crc32C.Compute([]));
    }
}

public sealed class RecordBatchFormatTests
{
    private static EncodedBatch EncodeSample()
    {
        RecordEntry[] records =
        [
            new(0, 1_700_000_000_000, "k"u8.ToArray(), "v1"u8.ToArray(), [new("h", "x")]),
            new(1, 1_700_000_000_005, null, null, null),
        ];
        return RecordBatch.Encode(records, 42, 1024);
    }

    [Fact]
    public void Encode_SmallBatch_MatchesGoldenBytes()
    {
        // Frozen format version 1: if this test fails, the on-disk format changed. Never edit the
        // expected bytes; add a new format version instead.
        var batch = EncodeSample();
        var hex = Convert.ToHexString(batch.Buffer, 0, batch.Length);
        ArrayPool<byte>.Shared.Return(batch.Buffer);
        const string expected =
            "2A00000000000000" + // base offset 42
            "31000000" +         // batch length 49 (bytes after this field; 61 in all)
            "7A313C6F" +         // CRC-32C of bytes 16..end then 0..7 (checked with an independent bitwise implementation)
            "01" + "00" +        // version 1, attributes 0
            "01000000" +         // last offset delta 1
            "02000000" +         // record count 2
            "0068E5CF8B010000" + // first timestamp 1700000000000
            "0568E5CF8B010000" + // max timestamp 1700000000005
            "0C" + "00" + "00" + "02" + "6B" + "04" + "7631" + "01" + "01" + "68" + "01" + "78" +
            "05" + "0A" + "01" + "01" + "01" + "00";
        Assert.Equal(expected, hex);
    }

    [Fact]
    public void Decode_EncodedBatch_RoundTripsEveryField()
    {
        var batch = EncodeSample();
        try
        {
            Assert.True(RecordBatch.TryReadHeader(batch.Buffer, out var header));
            Assert.True(RecordBatch.CrcMatches(batch.Buffer, header));
            Assert.Equal(42, header.BaseOffset);
            Assert.Equal(44, header.NextOffset);
            var records = new List<StoredRecord>();
            int bytes = 0;
            long next = 0;
            Assert.True(RecordBatch.TryDecode(batch.Buffer, header, 0, long.MaxValue, 10, int.MaxValue, records, ref bytes, ref next));
            Assert.Equal(2, records.Count);
            Assert.Equal(42, records[0].Offset);
            Assert.Equal("k", Encoding.UTF8.GetString(records[0].Key!.Value.Span));
            Assert.Equal("v1", Encoding.UTF8.GetString(records[0].Value!.Value.Span));
            Assert.Equal(new KeyValuePair<string, string>("h", "x"), Assert.Single(records[0].Headers));
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), records[0].Timestamp);
            Assert.Equal(43, records[1].Offset);
            Assert.Null(records[1].Key);
            Assert.Null(records[1].Value);
            Assert.Empty(records[1].Headers);
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_005), records[1].Timestamp);
            Assert.Equal(44, next);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch.Buffer);
        }
    }

    [Fact]
    public void CrcMatches_AnyFlippedByte_IsDetected()
    {
        var batch = EncodeSample();
        try
        {
            for (var i = 0; i < batch.Length; i++)
            {
                var copy = batch.Buffer.AsSpan(0, batch.Length).ToArray();
                copy[i] ^= 0x10;
                var parsed = RecordBatch.TryReadHeader(copy, out var header);
                Assert.False(parsed && RecordBatch.CrcMatches(copy, header), $"flip at byte {i} went unnoticed");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch.Buffer);
        }
    }

    [Fact]
    public void Encode_RecordOverMaximum_ThrowsRecordTooLarge()
    {
        RecordEntry[] records = [new(0, 0, null, new byte[100], null), new(1, 0, null, new byte[2000], null)];
        var ex = Assert.Throws<RecordTooLargeException>(() => RecordBatch.Encode(records, 0, 1024));
        Assert.Equal(1024, ex.MaxSize);
        Assert.True(ex.Size > 2000);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(-1L)]
    [InlineData(127L)]
    [InlineData(128L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Varint_SignedValue_RoundTrips(long value)
    {
        Span<byte> buffer = stackalloc byte[Varint.MaxLength];
        var written = Varint.WriteSigned(buffer, value);
        Assert.Equal(Varint.SizeOfSigned(value), written);
        var pos = 0;
        Assert.True(Varint.TryReadSigned(buffer[..written], ref pos, out var read));
        Assert.Equal(value, read);
        Assert.Equal(written, pos);
    }
}
