using System.Collections.Frozen;
using System.Runtime.InteropServices;
using System.Text;
using Sluice.Core.Log;

namespace Sluice.Core.Filters;

/// <summary>
/// A compiled filter: a tree of conditions evaluated per record with virtual calls, loops over the record's header list
/// and span comparisons of its key. Nothing is allocated per evaluation and nothing is decoded: header values are
/// strings already, literals meant for keys were encoded to UTF-8 once, at parse time.
/// </summary>
internal abstract class FilterNode
{
    public abstract bool Matches(StoredRecord record);

    /// <summary>Canonical text: equal for filters that differ only in spacing, quoting or <c>!=</c> vs <c>NOT =</c>.</summary>
    public abstract void Write(StringBuilder sb);

    /// <summary>
    /// The value of the last header called <paramref name="name"/> (ASCII case ignored), or null. The last, because a
    /// consumer sees the headers as a JSON object where a later duplicate replaces an earlier one.
    /// </summary>
    protected static string? FindHeader(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        // The backends hand out arrays (embedded log) and lists (Kafka): scanned as spans, without an interface call per header.
        ReadOnlySpan<KeyValuePair<string, string>> span;
        if (headers is KeyValuePair<string, string>[] array)
        {
            span = array;
        }
        else if (headers is List<KeyValuePair<string, string>> list)
        {
            span = CollectionsMarshal.AsSpan(list);
        }
        else
        {
            return FindHeaderSlow(headers, name);
        }

        for (var i = span.Length - 1; i >= 0; i--)
        {
            if (string.Equals(span[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return span[i].Value;
            }
        }

        return null;
    }

    private static string? FindHeaderSlow(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        for (var i = headers.Count - 1; i >= 0; i--)
        {
            var h = headers[i];
            if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return h.Value;
            }
        }

        return null;
    }

    protected static void WriteString(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"' or '\\':
                    sb.Append('\\').Append(c);
                    break;
                case < ' ' or '\x7f':
                    sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }

    // " IN (...)" with the values sorted and without repeats: the list's order and duplicates do not change the filter.
    protected static void WriteIn(StringBuilder sb, string[] values)
    {
        sb.Append(" IN (");
        var first = true;
        foreach (var v in values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (!first)
            {
                sb.Append(", ");
            }

            WriteString(sb, v);
            first = false;
        }

        sb.Append(')');
    }

    protected static void WriteHeader(StringBuilder sb, string name)
    {
        // Names compare ignoring ASCII case, so the canonical form is lower case.
        sb.Append("header.");
        WriteString(sb, name.ToLowerInvariant());
    }
}

internal sealed class AndNode(FilterNode[] operands) : FilterNode
{
    public override bool Matches(StoredRecord record)
    {
        foreach (var o in operands)
        {
            if (!o.Matches(record))
            {
                return false;
            }
        }

        return true;
    }

    public override void Write(StringBuilder sb) => WriteList(sb, operands, " AND ");

    internal static void WriteList(StringBuilder sb, FilterNode[] operands, string separator)
    {
        sb.Append('(');
        for (var i = 0; i < operands.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(separator);
            }

            operands[i].Write(sb);
        }

        sb.Append(')');
    }
}

internal sealed class OrNode(FilterNode[] operands) : FilterNode
{
    public override bool Matches(StoredRecord record)
    {
        foreach (var o in operands)
        {
            if (o.Matches(record))
            {
                return true;
            }
        }

        return false;
    }

    public override void Write(StringBuilder sb) => AndNode.WriteList(sb, operands, " OR ");
}

internal sealed class NotNode(FilterNode operand) : FilterNode
{
    public FilterNode Operand { get; } = operand;

    public override bool Matches(StoredRecord record) => !Operand.Matches(record);

    public override void Write(StringBuilder sb)
    {
        sb.Append("NOT ");
        Operand.Write(sb);
    }
}

/// <summary><c>header:NAME</c>: the message has the header, whatever its value.</summary>
internal sealed class HeaderExistsNode(string name) : FilterNode
{
    public override bool Matches(StoredRecord record) => FindHeader(record.Headers, name) is not null;

    public override void Write(StringBuilder sb)
    {
        sb.Append("header:");
        WriteString(sb, name.ToLowerInvariant());
    }
}

/// <summary><c>header.NAME = "v"</c>: false when the header is absent.</summary>
internal sealed class HeaderEqualsNode(string name, string value) : FilterNode
{
    public override bool Matches(StoredRecord record) => string.Equals(FindHeader(record.Headers, name), value, StringComparison.Ordinal);

    public override void Write(StringBuilder sb)
    {
        WriteHeader(sb, name);
        sb.Append(" = ");
        WriteString(sb, value);
    }
}

/// <summary><c>header.NAME IN ("a", "b")</c>: a set lookup, so a long tag list costs one hash per message.</summary>
internal sealed class HeaderInNode(string name, string[] values) : FilterNode
{
    private readonly FrozenSet<string> _set = values.ToFrozenSet(StringComparer.Ordinal);

    public override bool Matches(StoredRecord record) => FindHeader(record.Headers, name) is { } v && _set.Contains(v);

    public override void Write(StringBuilder sb)
    {
        WriteHeader(sb, name);
        WriteIn(sb, values);
    }
}

/// <summary><c>hasPrefix(header.NAME, "p")</c>: false when the header is absent.</summary>
internal sealed class HeaderPrefixNode(string name, string prefix) : FilterNode
{
    public override bool Matches(StoredRecord record) => FindHeader(record.Headers, name) is { } v && v.StartsWith(prefix, StringComparison.Ordinal);

    public override void Write(StringBuilder sb)
    {
        sb.Append("hasPrefix(");
        WriteHeader(sb, name);
        sb.Append(", ");
        WriteString(sb, prefix);
        sb.Append(')');
    }
}

/// <summary>
/// Conditions on the key compare its bytes with the literals' UTF-8, so no key is decoded. A message without a key
/// matches none of them (and so matches <c>key != "x"</c>).
/// </summary>
internal sealed class KeyEqualsNode(string text) : FilterNode
{
    private readonly byte[] _bytes = Encoding.UTF8.GetBytes(text);

    public override bool Matches(StoredRecord record) => record.Key is { } k && k.Span.SequenceEqual(_bytes);

    public override void Write(StringBuilder sb)
    {
        sb.Append("key = ");
        WriteString(sb, text);
    }
}

internal sealed class KeyInNode(string[] texts) : FilterNode
{
    // A linear scan: the filter's length limit keeps the list short, and a hash of the key would cost about as much.
    private readonly byte[][] _keys = [.. texts.Distinct(StringComparer.Ordinal).Select(Encoding.UTF8.GetBytes)];

    public override bool Matches(StoredRecord record)
    {
        if (record.Key is not { } k)
        {
            return false;
        }

        var span = k.Span;
        foreach (var candidate in _keys)
        {
            if (span.SequenceEqual(candidate))
            {
                return true;
            }
        }

        return false;
    }

    public override void Write(StringBuilder sb)
    {
        sb.Append("key");
        WriteIn(sb, texts);
    }
}

internal sealed class KeyPrefixNode(string text) : FilterNode
{
    private readonly byte[] _prefix = Encoding.UTF8.GetBytes(text);

    public override bool Matches(StoredRecord record) => record.Key is { } k && k.Span.StartsWith(_prefix);

    public override void Write(StringBuilder sb)
    {
        sb.Append("hasPrefix(key, ");
        WriteString(sb, text);
        sb.Append(')');
    }
}
