using System.Globalization;
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

    [Theory]
    [InlineData("1c6c89a39eb0d947.46b956a6.3.1234.2", true)]
    [InlineData("1C6C89A39EB0D947.46B956A6.3.1234.2", true)]
    [InlineData("ffffffffffffffff.ffffffff.2147483647.9223372036854775807.2147483647", true)]
    [InlineData("0000000000000000001.0000000001.0003.0004.0005", true)]
    [InlineData("10000000000000000.1.1.1.1", false)]
    [InlineData("1.100000000.1.1.1", false)]
    [InlineData("1.1.2147483648.1.1", false)]
    [InlineData("1.1.1.9223372036854775808.1", false)]
    [InlineData("1.1.1.1.2147483648", false)]
    [InlineData("1.1.1.1.0", false)]
    [InlineData("a.*.1.2.*", true)]
    [InlineData("a.*.1.2.3", false)]
    [InlineData("a.1.1.2.*", false)]
    [InlineData("a.*.1.2.*.", false)]
    [InlineData("a.b.1.2.3.4", false)]
    [InlineData("a.b.1.2", false)]
    [InlineData("a..1.2.3", false)]
    [InlineData(".b.1.2.3", false)]
    [InlineData("a.b.1.2.", false)]
    [InlineData("a.b.+1.2.3", false)]
    [InlineData("a.b.-1.2.3", false)]
    [InlineData("a.b. 1.2.3", false)]
    [InlineData("a.b.1.2.3 ", false)]
    [InlineData("0x1.b.1.2.3", false)]
    [InlineData("g.b.1.2.3", false)]
    [InlineData("a.b.1a.2.3", false)]
    [InlineData("a.b.\u0663.2.3", false)]
    [InlineData("", false)]
    [InlineData("1c.2.3.4.5\0", false)]
    [InlineData("1c\0.2.3.4.5", false)]
    public void TryParse_AcceptsExactlyWhatItWrites(string text, bool valid)
    {
        Assert.Equal(valid, AckId.TryParse(text, out var id));
        Assert.Equal(SplitAndParse(text, out var expected), valid);
        Assert.Equal(expected, id);
    }

    [Fact]
    public void TryParse_AgreesWithSplittingAndTheFrameworksNumberParsing_OnMangledIds()
    {
        // Ids with characters replaced, inserted and removed (a third of them left valid), and strings of their alphabet at
        // random: every one is read as the framework's parsers read its five fields, or refused as they refuse it.
        var random = new Random(20261204);
        const string alphabet = "0123456789abcdefABCDEFg.*+- x\u0663\0";
        for (var i = 0; i < 200_000; i++)
        {
            string text;
            if (i % 2 == 0)
            {
                var id = new AckId(random.NextInt64(long.MinValue, long.MaxValue), (uint)random.NextInt64(0, uint.MaxValue + 1L),
                    random.Next(4) == 0 ? int.MaxValue : random.Next(64), random.Next(4) == 0 ? long.MaxValue : random.NextInt64(0, 1L << 40),
                    random.Next(3) == 0 ? 0 : random.Next(1, 9));
                var chars = new StringBuilder(id.ToString());
                for (var edits = random.Next(3); edits > 0 && chars.Length > 0; edits--)
                {
                    var at = random.Next(chars.Length);
                    switch (random.Next(3))
                    {
                        case 0: chars[at] = alphabet[random.Next(alphabet.Length)]; break;
                        case 1: chars.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        default: chars.Remove(at, 1); break;
                    }
                }

                text = chars.ToString();
            }
            else
            {
                text = new string(Enumerable.Range(0, random.Next(24)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            }

            var valid = SplitAndParse(text, out var expected);
            Assert.True(valid == AckId.TryParse(text, out var parsed), $"'{text}': expected {(valid ? "valid" : "refused")}");
            Assert.Equal(expected, parsed);

            // The same text as UTF-8 reads the same, and is canonical exactly when it is what the id writes.
            Assert.True(valid == AckId.TryParse(Encoding.UTF8.GetBytes(text).AsSpan(), out var fromUtf8, out var canonical), $"'{text}' as UTF-8");
            Assert.Equal(expected, fromUtf8);
            Assert.True(canonical == (valid && expected.ToString() == text) || !valid, $"'{text}': canonical {canonical}");
        }
    }

    [Fact]
    public void AckIdList_GivesEveryIdBackAsSent_AndParsesTheIds()
    {
        var id = new AckId(0x1c6c89a39eb0d947L, 0x46b956a6u, 3, 1234L, 2);
        var list = new AckIdList();
        string[] sent = [id.ToString(), id.ToString().ToUpperInvariant(), "0" + id.ToString(), "not-an-id", "1c.*.3.1234.*"];
        foreach (var text in sent)
        {
            list.AddUtf8(Encoding.UTF8.GetBytes(text));
        }

        Assert.Equal(sent, list);
        Assert.False(list.HasEmpty);
        Assert.True(list.TryGet(0, out var first));
        Assert.Equal(id, first);
        Assert.True(list.TryGet(1, out var upper));
        Assert.Equal(id, upper);
        Assert.True(list.TryGet(2, out var leadingZero));
        Assert.Equal(id, leadingZero);
        Assert.False(list.TryGet(3, out _));
        Assert.True(list.TryGet(4, out var position));
        Assert.Equal(AckId.Position(0x1c, 3, 1234), position);

        list.Add(null);
        Assert.True(list.HasEmpty);
        Assert.Equal("", list[^1]);
        Assert.Same(list, AckIdList.From(list));
        Assert.Equal(sent, AckIdList.From(sent));

        // Grown past its first rented storage, every id is still there; disposed, it is empty.
        var many = Enumerable.Range(0, 1000).Select(i => new AckId(0x1c, 0x2e, i % 4, i, 1)).ToList();
        using var grown = new AckIdList();
        foreach (var each in many)
        {
            grown.AddUtf8(Encoding.UTF8.GetBytes(each.ToString()));
        }

        Assert.Equal(many.Select(m => m.ToString()), grown);
        Assert.True(grown.TryGet(999, out var last));
        Assert.Equal(many[999], last);
        grown.Dispose();
        Assert.Empty(grown);
        Assert.Throws<ArgumentOutOfRangeException>(() => grown[0]);
    }

    // The reading TryParse replaced (split on '.', the framework's number parsing), kept as the oracle, less one quirk
    // of those parsers that the new reading does not keep: they ignore NUL characters after a number's digits ("5\0"
    // reads as 5). An id holding a NUL is refused now.
    private static bool SplitAndParse(string value, out AckId id)
    {
        id = default;
        if (value.Length > 100 || value.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        Span<Range> parts = stackalloc Range[6];
        var s = value.AsSpan();
        if (s.Split(parts, '.') != 5)
        {
            return false;
        }

        if (s[parts[1]] is "*" && s[parts[4]] is "*")
        {
            if (long.TryParse(s[parts[0]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var g)
                && int.TryParse(s[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out var p)
                && long.TryParse(s[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var o))
            {
                id = AckId.Position(g, p, o);
                return true;
            }

            return false;
        }

        if (long.TryParse(s[parts[0]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var generation)
            && uint.TryParse(s[parts[1]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var epoch)
            && int.TryParse(s[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
            && long.TryParse(s[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            && int.TryParse(s[parts[4]], NumberStyles.None, CultureInfo.InvariantCulture, out var attempt)
            && attempt >= 1)
        {
            id = new AckId(generation, epoch, partition, offset, attempt);
            return true;
        }

        return false;
    }
}
