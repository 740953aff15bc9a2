namespace Sluice.Core.Filters;

/// <summary>A filter expression that does not parse, or is over a limit (HTTP 400 <c>invalid-filter</c>).</summary>
public sealed class FilterSyntaxException : ArgumentException
{
    public FilterSyntaxException(int position, string expected, string? found)
        : base(found is null
            ? $"invalid filter at position {position}: expected {expected}"
            : $"invalid filter at position {position}: expected {expected}; found {found}")
    {
        Position = position;
        Expected = expected;
        Found = found;
    }

    /// <summary>1-based index of the character where the problem is (the filter's length + 1 for its end).</summary>
    public int Position { get; }

    /// <summary>What the parser expected there, in words.</summary>
    public string Expected { get; }

    /// <summary>What it found there (a short excerpt, or "the end of the filter"); null for a limit.</summary>
    public string? Found { get; }
}
