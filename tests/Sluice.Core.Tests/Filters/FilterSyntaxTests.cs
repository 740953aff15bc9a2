using Sluice.Core.Filters;

namespace Sluice.Core.Tests.Filters;

/// <summary>Invalid filters: each error names the 1-based position and what was expected there.</summary>
public sealed class FilterSyntaxTests
{
    private static FilterSyntaxException Error(string filter) => Assert.Throws<FilterSyntaxException>(() => MessageFilter.Parse(filter));

    [Theory]
    //          filter                                    position  expected (part)                      found (part)
    [InlineData("", 1, "a condition", "the end of the filter")]
    [InlineData("   ", 4, "a condition", "the end of the filter")]
    [InlineData("region = \"eu\"", 1, "a condition", "'region'")]
    [InlineData("header.region = eu", 17, "a string in quotes", "'eu'")]
    [InlineData("header.region == \"eu\"", 16, "a string in quotes", "'='")]
    [InlineData("header.region \"eu\"", 15, "=, != or IN", "'\"eu'")]
    [InlineData("header region = \"eu\"", 8, "'.' (header.NAME", "'region'")]
    [InlineData("header. = \"eu\"", 9, "a header name", "'='")]
    [InlineData("header.\"\" = \"eu\"", 8, "\"\" is empty", "'\"'")]
    [InlineData("header:", 8, "a header name", "the end of the filter")]
    [InlineData("header.a = \"eu", 15, "the closing \" of the string that starts at position 12", "the end of the filter")]
    [InlineData("header.a = 'eu\"", 16, "the closing ' of the string", "the end of the filter")]
    [InlineData("header.a = \"e\\qu\"", 14, "an escape", "'\\qu'")]
    [InlineData("header.a = \"\\x4\"", 16, "2 hexadecimal digits", "'\"'")]
    [InlineData("header.a = \"\\uD800\"", 13, "a Unicode scalar value", "'\\uD800'")]
    [InlineData("header.a = \"\\U00110000\"", 13, "a Unicode scalar value", "'\\U00110000'")]
    [InlineData("header.a = \"tab\there\"", 16, "a printable character", "'\\u0009'")]
    [InlineData("header:a header:b", 10, "AND, OR or the end of the filter", "'header'")]
    [InlineData("header:a and header:b", 10, "operators are upper case: AND", "'and'")]
    [InlineData("header:a Or header:b", 10, "operators are upper case: OR", "'Or'")]
    [InlineData("not header:a", 1, "operators are upper case: NOT", "'not'")]
    [InlineData("header.a in (\"x\")", 10, "operators are upper case: IN", "'in'")]
    [InlineData("header:a AND header:b OR header:c", 23, "AND and OR cannot be mixed without parentheses", "'OR'")]
    [InlineData("header:a OR header:b AND header:c", 22, "AND and OR cannot be mixed without parentheses", "'AND'")]
    [InlineData("header:a AND", 13, "a condition", "the end of the filter")]
    [InlineData("(header:a", 10, "')' to close the '(' at position 1", "the end of the filter")]
    [InlineData("header:a)", 9, "this ')' closes nothing", "')'")]
    [InlineData("()", 2, "a condition", "')'")]
    [InlineData("NOT", 4, "a condition", "the end of the filter")]
    [InlineData("hasPrefix(header.a)", 19, "',' and the prefix", "')'")]
    [InlineData("hasPrefix header.a, \"x\")", 11, "'(' after hasPrefix", "'header'")]
    [InlineData("hasPrefix(value, \"x\")", 11, "header.NAME or key as the first argument", "'value'")]
    [InlineData("hasPrefix(key, \"x\"", 19, "')' to close hasPrefix(", "the end of the filter")]
    [InlineData("hasprefix(key, \"x\")", 1, "a condition", "'hasprefix'")]
    [InlineData("key : \"x\"", 5, "=, != or IN", "':'")]
    [InlineData("key IN \"x\"", 8, "'(' to start the list", "'\"x'")]
    [InlineData("key IN ()", 9, "a string in quotes", "')'")]
    [InlineData("key IN (\"a\" \"b\")", 13, "',' or ')' in the IN list", "'\"b'")]
    [InlineData("key IN (\"a\",)", 13, "a string in quotes", "')'")]
    public void Invalid_NamesPositionExpectedAndFound(string filter, int position, string expected, string found)
    {
        var ex = Error(filter);
        Assert.Equal(position, ex.Position);
        Assert.Contains(expected, ex.Expected, StringComparison.Ordinal);
        Assert.Contains(found, ex.Found!, StringComparison.Ordinal);
        Assert.Contains($"at position {position}", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Length_OverTheLimit_IsRefusedAtTheFirstByteBeyondIt()
    {
        var longest = "header.tag IN (\"" + new string('a', MessageFilter.MaxBytes - 18) + "\")";
        Assert.Equal(MessageFilter.MaxBytes, longest.Length);
        Assert.NotNull(MessageFilter.Parse(longest));

        var ex = Error("header.tag IN (\"" + new string('a', MessageFilter.MaxBytes - 17) + "\")");
        Assert.Equal(MessageFilter.MaxBytes + 1, ex.Position);
        Assert.Contains($"at most {MessageFilter.MaxBytes} bytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"this one is {MessageFilter.MaxBytes + 1}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Length_CountsUtf8Bytes()
    {
        // 'é' is two bytes: 512 of them are 1024 bytes before the rest of the expression.
        var ex = Error("header.a = \"" + new string('\u00e9', 512) + "\"");
        Assert.Contains("at most 1024 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Depth_OverTheLimit_IsRefused()
    {
        var deepest = new string('(', MessageFilter.MaxDepth) + "header:a" + new string(')', MessageFilter.MaxDepth);
        Assert.NotNull(MessageFilter.Parse(deepest));

        var ex = Error(new string('(', MessageFilter.MaxDepth + 1) + "header:a" + new string(')', MessageFilter.MaxDepth + 1));
        Assert.Equal(MessageFilter.MaxDepth + 1, ex.Position);
        Assert.Contains($"at most {MessageFilter.MaxDepth} levels", ex.Message, StringComparison.Ordinal);

        var nots = Error(string.Concat(Enumerable.Repeat("NOT ", MessageFilter.MaxDepth + 1)) + "header:a");
        Assert.Equal((MessageFilter.MaxDepth * 4) + 1, nots.Position);
    }

    [Fact]
    public void ControlCharacters_AreNotEchoedRaw()
    {
        var ex = Error("\u0001");
        Assert.DoesNotContain('\u0001', ex.Message);
    }
}
