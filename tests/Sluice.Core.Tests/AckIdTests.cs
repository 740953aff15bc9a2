using System.Text;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests;

public sealed class AckIdTests
{
    [Theory]
    [InlineData(0L, 0u, 0, 0L, 1)]
    [InlineData(0x1c6c89a39eb0d947L, 0x46b956a6u, 3, 1234L, 2)]
    [InlineData(long.MaxValue, uint.MaxValue, int.MaxValue, long.MaxValue, int.MaxValue)]
    public void TryFormat_WritesTheSameTextAsToString_AndParsesBack(long generation, uint epoch, int partition, long offset, int attempt)
    {
        var id = new AckId(generation, epoch, partition, offset, attempt);
        Span<byte> utf8 = stackalloc byte[128];

        Assert.True(id.TryFormat(utf8, out var written));

        var text = Encoding.UTF8.GetString(utf8[..written]);
        Assert.Equal(id.ToString(), text);
        Assert.True(AckId.TryParse(text, out var parsed));
        Assert.Equal(id, parsed);
    }

    [Fact]
    public void TryFormat_IntoTooSmallABuffer_Fails()
    {
        var id = new AckId(0x1c6c89a39eb0d947L, 0x46b956a6u, 3, 1234L, 2);
        var text = id.ToString();
        var buffer = new byte[text.Length - 1];

        Assert.False(id.TryFormat(buffer, out _));
        Assert.True(id.TryFormat(new byte[text.Length], out var written));
        Assert.Equal(text.Length, written);
    }
}
