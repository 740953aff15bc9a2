using System.Text;
using Sluice.Core.Log;

namespace Sluice.Core.Filters;

/// <summary>
/// A subscription filter: an expression on a message's headers and key in the style of Google Pub/Sub's filter
/// language (<c>header.region = "eu" AND hasPrefix(header.type, "order.")</c>; the grammar is on
/// <see cref="FilterParser"/>), parsed and compiled once. <see cref="Matches"/> allocates nothing.
/// </summary>
/// <remarks>
/// Two filters are equal when their canonical forms are: spacing, quotes, the case of header names, <c>!=</c> against
/// <c>NOT =</c> and the order of an IN list do not matter. <see cref="Text"/> keeps what the user wrote.
/// </remarks>
public sealed class MessageFilter : IEquatable<MessageFilter>
{
    /// <summary>The longest filter, in UTF-8 bytes (Pub/Sub allows 256; a tag list needs more).</summary>
    public const int MaxBytes = 1024;

    /// <summary>The deepest nesting of parentheses and negations.</summary>
    public const int MaxDepth = 16;

    private readonly FilterNode _root;

    private MessageFilter(string text, FilterNode root)
    {
        Text = text;
        _root = root;
        var sb = new StringBuilder(text.Length + 16);
        root.Write(sb);
        Canonical = sb.ToString();
    }

    /// <summary>The expression as given.</summary>
    public string Text { get; }

    /// <summary>The expression in one normal form, for comparing two filters.</summary>
    public string Canonical { get; }

    /// <summary>Parses <paramref name="text"/>; throws <see cref="FilterSyntaxException"/> with the position and what was expected.</summary>
    public static MessageFilter Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new MessageFilter(text, FilterParser.Parse(text));
    }

    /// <summary>True when the record passes the filter (is delivered).</summary>
    public bool Matches(StoredRecord record) => _root.Matches(record);

    public bool Equals(MessageFilter? other) => other is not null && string.Equals(Canonical, other.Canonical, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as MessageFilter);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Canonical);

    public override string ToString() => Text;

    public static bool operator ==(MessageFilter? left, MessageFilter? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(MessageFilter? left, MessageFilter? right) => !(left == right);
}
