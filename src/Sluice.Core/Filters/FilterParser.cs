using System.Globalization;
using System.Text;

namespace Sluice.Core.Filters;

/// <summary>
/// Recursive descent over the filter text, in the shape of Google Pub/Sub's subscription filter language with
/// <c>attributes</c> read as message headers and the message key added:
/// <code>
/// filter     = expression END
/// expression = unary { "AND" unary }  |  unary { "OR" unary }     (AND and OR mix only through parentheses)
/// unary      = ("NOT" | "-") unary  |  primary
/// primary    = "(" expression ")"
///            | header ":" name                                    (the header exists)
///            | header "." name ( "=" | "!=" ) string
///            | header "." name "IN" "(" string { "," string } ")"
///            | "key" ( "=" | "!=" ) string  |  "key" "IN" "(" string { "," string } ")"
///            | "hasPrefix" "(" ( header "." name | "key" ) "," string ")"
/// header     = "header" | "attributes"
/// name       = 1*( ALPHA / DIGIT / "_" / "-" )  |  string
/// string     = '"' ... '"'  |  "'" ... "'"        (escapes \\ \" \' \n \r \t \a \b \f \v \? \xHH \uHHHH \UHHHHHHHH \ooo)
/// </code>
/// Errors name the 1-based character position and what was expected there.
/// </summary>
internal sealed class FilterParser
{
    private readonly string _text;
    private int _pos;
    private int _depth;

    private FilterParser(string text) => _text = text;

    public static FilterNode Parse(string text)
    {
        CheckLength(text);
        var parser = new FilterParser(text);
        var node = parser.ParseExpression();
        parser.SkipSpace();
        if (!parser.AtEnd)
        {
            throw parser.Error(parser._pos, parser.Peek == ')' ? "AND, OR or the end of the filter (this ')' closes nothing)" : "AND, OR or the end of the filter");
        }

        return node;
    }

    private bool AtEnd => _pos >= _text.Length;

    private char Peek => AtEnd ? '\0' : _text[_pos];

    private static void CheckLength(string text)
    {
        var bytes = 0;
        for (var i = 0; i < text.Length; i++)
        {
            bytes += char.IsSurrogate(text[i]) ? 2 : text[i] < 0x80 ? 1 : text[i] < 0x800 ? 2 : 3;
            if (bytes > MessageFilter.MaxBytes)
            {
                throw new FilterSyntaxException(i + 1, $"the end of the filter: a filter is at most {MessageFilter.MaxBytes} bytes (UTF-8), this one is {Encoding.UTF8.GetByteCount(text)}", null);
            }
        }
    }

    private FilterNode ParseExpression()
    {
        var first = ParseUnary();
        string? op = null;
        List<FilterNode>? operands = null;
        while (true)
        {
            SkipSpace();
            var start = _pos;
            var word = PeekWord();
            if (word is not ("AND" or "OR"))
            {
                if (word is { } w && (w.Equals("AND", StringComparison.OrdinalIgnoreCase) || w.Equals("OR", StringComparison.OrdinalIgnoreCase)))
                {
                    throw Error(start, $"AND, OR, ')' or the end of the filter (operators are upper case: {w.ToUpperInvariant()})");
                }

                break;
            }

            if (op is not null && word != op)
            {
                throw Error(start, $"{op}: AND and OR cannot be mixed without parentheses; write (a AND b) OR c, or a AND (b OR c)");
            }

            op = word;
            _pos += word.Length;
            (operands ??= [first]).Add(ParseUnary());
        }

        if (operands is null)
        {
            return first;
        }

        return op == "AND" ? new AndNode([.. operands]) : new OrNode([.. operands]);
    }

    private FilterNode ParseUnary()
    {
        SkipSpace();
        var start = _pos;
        if (Peek == '-' || PeekWord() == "NOT")
        {
            _pos += Peek == '-' ? 1 : 3;
            Enter(start);
            var operand = ParseUnary();
            _depth--;

            // NOT NOT x is x, and so NOT header.a != "v" is header.a = "v".
            return operand is NotNode inner ? inner.Operand : new NotNode(operand);
        }

        return ParsePrimary();
    }

    private FilterNode ParsePrimary()
    {
        SkipSpace();
        var start = _pos;
        if (Peek == '(')
        {
            _pos++;
            Enter(start);
            var inner = ParseExpression();
            SkipSpace();
            Expect(')', $"')' to close the '(' at position {start + 1}, or AND, OR");
            _depth--;
            return inner;
        }

        var word = PeekWord();
        switch (word)
        {
            case "header" or "attributes":
                _pos += word.Length;
                return ParseHeaderCondition();
            case "key":
                _pos += word.Length;
                return ParseKeyCondition();
            case "hasPrefix":
                _pos += word.Length;
                return ParseHasPrefix();
            case { } w when w.Equals("not", StringComparison.OrdinalIgnoreCase):
                throw Error(start, "a condition (operators are upper case: NOT)");
            default:
                throw Error(start, "a condition: header.NAME = \"value\", header:NAME, key = \"value\", hasPrefix(...), NOT, '-' or '('");
        }
    }

    private FilterNode ParseHeaderCondition()
    {
        SkipSpace();
        if (Peek == ':')
        {
            _pos++;
            return new HeaderExistsNode(ParseName());
        }

        Expect('.', "'.' (header.NAME = \"value\") or ':' (header:NAME, the header exists)");
        var name = ParseName();
        return Compare(
            value => new HeaderEqualsNode(name, value),
            values => new HeaderInNode(name, values));
    }

    private FilterNode ParseKeyCondition()
        => Compare(value => new KeyEqualsNode(value), values => new KeyInNode(values));

    // After a field: "=" string, "!=" string or "IN" list.
    private FilterNode Compare(Func<string, FilterNode> equals, Func<string[], FilterNode> oneOf)
    {
        SkipSpace();
        var start = _pos;
        if (Peek == '=')
        {
            _pos++;
            return equals(ParseString());
        }

        if (Peek == '!' && _pos + 1 < _text.Length && _text[_pos + 1] == '=')
        {
            _pos += 2;
            return new NotNode(equals(ParseString()));
        }

        if (PeekWord() is { } word && word.Equals("IN", StringComparison.OrdinalIgnoreCase))
        {
            if (word != "IN")
            {
                throw Error(start, "=, != or IN (operators are upper case: IN)");
            }

            _pos += 2;
            return oneOf(ParseList());
        }

        throw Error(start, "=, != or IN");
    }

    private string[] ParseList()
    {
        SkipSpace();
        Expect('(', "'(' to start the list: IN (\"a\", \"b\")");
        var values = new List<string> { ParseString() };
        while (true)
        {
            SkipSpace();
            if (Peek == ')')
            {
                _pos++;
                return [.. values];
            }

            Expect(',', "',' or ')' in the IN list");
            values.Add(ParseString());
        }
    }

    private FilterNode ParseHasPrefix()
    {
        SkipSpace();
        Expect('(', "'(' after hasPrefix: hasPrefix(header.NAME, \"prefix\")");
        SkipSpace();
        var start = _pos;
        var word = PeekWord();
        Func<string, FilterNode> node;
        if (word is "header" or "attributes")
        {
            _pos += word.Length;
            SkipSpace();
            Expect('.', "'.' and a header name: hasPrefix(header.NAME, \"prefix\")");
            var name = ParseName();
            node = prefix => new HeaderPrefixNode(name, prefix);
        }
        else if (word == "key")
        {
            _pos += 3;
            node = prefix => new KeyPrefixNode(prefix);
        }
        else
        {
            throw Error(start, "header.NAME or key as the first argument of hasPrefix");
        }

        SkipSpace();
        Expect(',', "',' and the prefix: hasPrefix(header.NAME, \"prefix\")");
        var prefix = ParseString();
        SkipSpace();
        Expect(')', "')' to close hasPrefix(");
        return node(prefix);
    }

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
