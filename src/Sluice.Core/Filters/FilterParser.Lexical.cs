using System.Globalization;
using System.Text;

namespace Sluice.Core.Filters;

/// <summary>
/// The lexical half of <see cref="FilterParser"/>: header names, string literals and their escapes, words, spacing,
/// and the errors with the position and an excerpt of what was found there.
/// </summary>
internal sealed partial class FilterParser
{
    private string ParseName()
    {
        SkipSpace();
        var start = _pos;
        if (Peek is '"' or '\'')
        {
            var quoted = ParseString();
            return quoted.Length > 0 ? quoted : throw Error(start, "a header name: \"\" is empty");
        }

        while (!AtEnd && IsNameChar(Peek))
        {
            _pos++;
        }

        if (_pos == start)
        {
            throw Error(start, "a header name: letters, digits, '_' and '-', or any name in quotes (header.\"my.name\")");
        }

        return _text[start.._pos];
    }

    private string ParseString()
    {
        SkipSpace();
        var start = _pos;
        var quote = Peek;
        if (quote is not ('"' or '\''))
        {
            throw Error(start, "a string in quotes, such as \"eu\" or 'eu'");
        }

        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd)
            {
                throw Error(_pos, $"the closing {quote} of the string that starts at position {start + 1}");
            }

            var c = _text[_pos];
            if (c == quote)
            {
                _pos++;
                return sb.ToString();
            }

            if (char.IsControl(c))
            {
                throw Error(_pos, "a printable character: write control characters as escapes (\\n, \\t, \\xHH)");
            }

            if (c != '\\')
            {
                sb.Append(c);
                _pos++;
                continue;
            }

            ParseEscape(sb);
        }
    }

    private void ParseEscape(StringBuilder sb)
    {
        var start = _pos;
        _pos++;
        if (AtEnd)
        {
            throw Error(_pos, "an escape after '\\'");
        }

        var e = _text[_pos++];
        switch (e)
        {
            case '\\' or '"' or '\'' or '?' or '`':
                sb.Append(e);
                return;
            case 'n': sb.Append('\n'); return;
            case 'r': sb.Append('\r'); return;
            case 't': sb.Append('\t'); return;
            case 'a': sb.Append('\a'); return;
            case 'b': sb.Append('\b'); return;
            case 'f': sb.Append('\f'); return;
            case 'v': sb.Append('\v'); return;
            case 'x' or 'X':
                AppendCodePoint(sb, start, ReadDigits(16, 2, start));
                return;
            case 'u':
                AppendCodePoint(sb, start, ReadDigits(16, 4, start));
                return;
            case 'U':
                AppendCodePoint(sb, start, ReadDigits(16, 8, start));
                return;
            case >= '0' and <= '3':
                _pos--;
                AppendCodePoint(sb, start, ReadDigits(8, 3, start));
                return;
            default:
                throw Error(start, "an escape: \\\\ \\\" \\' \\n \\r \\t \\a \\b \\f \\v \\? \\xHH \\uHHHH \\UHHHHHHHH or \\ooo (octal)");
        }
    }

    private int ReadDigits(int radix, int count, int escapeStart)
    {
        var value = 0;
        for (var i = 0; i < count; i++)
        {
            var digit = AtEnd ? -1 : radix == 16 ? HexValue(_text[_pos]) : _text[_pos] is >= '0' and <= '7' ? _text[_pos] - '0' : -1;
            if (digit < 0)
            {
                throw Error(_pos, $"{count} {(radix == 16 ? "hexadecimal" : "octal")} digits in the escape at position {escapeStart + 1}");
            }

            value = (value * radix) + digit;
            _pos++;
        }

        return value;
    }

    private void AppendCodePoint(StringBuilder sb, int escapeStart, int codePoint)
    {
        if (codePoint > 0x10FFFF || codePoint is >= 0xD800 and <= 0xDFFF)
        {
            throw Error(escapeStart, $"a Unicode scalar value; U+{codePoint.ToString("X4", CultureInfo.InvariantCulture)} is not one");
        }

        sb.Append(char.ConvertFromUtf32(codePoint));
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    // The identifier-like word at the cursor (letters, digits, '_'), or null; the cursor does not move.
    private string? PeekWord()
    {
        var end = _pos;
        while (end < _text.Length && (char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_'))
        {
            end++;
        }

        return end == _pos ? null : _text[_pos..end];
    }

    private void SkipSpace()
    {
        while (!AtEnd && char.IsWhiteSpace(Peek))
        {
            _pos++;
        }
    }

    private void Expect(char c, string expected)
    {
        SkipSpace();
        if (Peek != c || AtEnd)
        {
            throw Error(_pos, expected);
        }

        _pos++;
    }

    // Parentheses and negations nest; the limit keeps recursion (and evaluation) shallow whatever the input.
    private void Enter(int position)
    {
        if (++_depth > MessageFilter.MaxDepth)
        {
            throw new FilterSyntaxException(position + 1, $"at most {MessageFilter.MaxDepth} levels of parentheses and NOT", null);
        }
    }

    private FilterSyntaxException Error(int position, string expected) => new(position + 1, expected, Found(position));

    private string Found(int position)
    {
        if (position >= _text.Length)
        {
            return "the end of the filter";
        }

        var end = position;
        while (end < _text.Length && end - position < 20 && (IsNameChar(_text[end]) || end == position))
        {
            end++;
        }

        var token = _text[position..end];
        return $"'{(char.IsControl(token[0]) ? "\\u" + ((int)token[0]).ToString("x4", CultureInfo.InvariantCulture) : token)}'";
    }
}
