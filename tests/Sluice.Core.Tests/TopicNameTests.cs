using Sluice.Core.Topics;

namespace Sluice.Core.Tests;

public sealed class TopicNameTests
{
    [Theory]
    [InlineData("a/b")]
    [InlineData("a/b/c/d")]
    [InlineData("a//c")]
    [InlineData("../b/c")]
    [InlineData("a/./c")]
    [InlineData("a/b/c\u0001")]
    [InlineData("a/b\\x/c")]
    [InlineData("a/b/c d")]
    public void Parse_Malformed_Throws(string value)
    {
        Assert.Throws<InvalidNameException>(() => TopicName.Parse(value));
    }

    [Fact]
    public void Parse_PartOver255Bytes_Throws()
    {
        var ex = Assert.Throws<InvalidNameException>(() => TopicName.Parse($"t/n/{new string('x', 256)}"));
        Assert.Contains("255", ex.Message);
    }

    [Fact]
    public void Parse_Valid_RoundTrips()
    {
        var name = TopicName.Parse("acme/orders/created.v1");
        Assert.Equal("acme", name.Tenant);
        Assert.Equal("orders", name.Namespace);
        Assert.Equal("created.v1", name.Name);
        Assert.Equal("acme/orders/created.v1", name.ToString());
        Assert.False(name.IsInternal);
    }
}
