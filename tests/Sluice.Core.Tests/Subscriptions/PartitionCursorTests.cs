using System.Text;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

public sealed class PartitionCursorTests
{
    [Fact]
    public void Add_OutOfOrder_FoldsIntoCommittedOnceContiguous()
    {
        var cursor = new PartitionCursor(10);
        cursor.Add(12, 13);
        cursor.Add(14, 15);
        cursor.Add(11, 12);
        Assert.Equal(10, cursor.Committed);
        Assert.Equal(2, cursor.RangeCount);

        cursor.Add(10, 11);
        Assert.Equal(13, cursor.Committed);
        cursor.Add(13, 14);

        Assert.Equal(15, cursor.Committed);
        Assert.Equal(0, cursor.RangeCount);
    }

    [Fact]
    public void IsAcked_RangesAndCommitted_AnswersPerOffset()
    {
        var cursor = new PartitionCursor(5);
        cursor.Add(7, 9);

        Assert.Equal([true, false, false, true, true, false], new long[] { 4, 5, 6, 7, 8, 9 }.Select(cursor.IsAcked));
    }

    [Fact]
    public void Encode_Golden_FormatIsPinned()
    {
        var cursor = new PartitionCursor(3);
        cursor.Add(5, 7);
        cursor.Add(9, 10);

        Assert.Equal("1|2a|3|5-7,9-10", Encoding.UTF8.GetString(cursor.Encode(42)));
    }

    [Fact]
    public void TryDecode_EncodedValue_RoundTrips()
    {
        Assert.True(PartitionCursor.TryDecode("1|2a|3|5-7,9-10"u8, out var generation, out var cursor));

        Assert.Equal(42, generation);
        Assert.Equal(3, cursor.Committed);
        Assert.Equal("1|2a|3|5-7,9-10", Encoding.UTF8.GetString(cursor.Encode(42)));
    }

    [Theory]
    [InlineData("2|2a|3|")]
    [InlineData("1|zz|3|")]
    [InlineData("1|2a|3|7-5")]
    [InlineData("1|2a|3")]
    public void TryDecode_Malformed_ReturnsFalse(string value)
    {
        Assert.False(PartitionCursor.TryDecode(Encoding.UTF8.GetBytes(value), out _, out _));
    }

    [Theory]
    [InlineData("1f.a.0.5.1", true)]
    [InlineData("1f.a.0.5.0", false)]
    [InlineData("1f.a.0.5", false)]
    [InlineData("1f.a.-1.5.1", false)]
    [InlineData("x", false)]
    public void AckId_TryParse_AcceptsOnlyWellFormedIds(string value, bool valid)
    {
        Assert.Equal(valid, AckId.TryParse(value, out var id));
        if (valid)
        {
            Assert.Equal(value, id.ToString());
        }
    }
}
