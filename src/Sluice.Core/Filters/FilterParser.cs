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
internal sealed partial class FilterParser
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
}
