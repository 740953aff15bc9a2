using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Sluice.Core.Topics;

/// <summary>
/// A topic's full name, <c>tenant/namespace/name</c>. Each part is 1..255 UTF-8 bytes of
/// letters, digits, <c>-</c>, <c>_</c> and <c>.</c>, and is neither <c>.</c> nor <c>..</c>,
/// so a part can always be used as a directory name.
/// </summary>
public readonly record struct TopicName
{
    /// <summary>Longest allowed part, in UTF-8 bytes (a file name on every common file system).</summary>
    public const int MaxPartBytes = 255;

    /// <summary>Tenants whose name starts with this prefix are reserved for Sluice's own state.</summary>
    public const string InternalTenantPrefix = "__";

    public TopicName(string tenant, string @namespace, string name)
    {
        ThrowIfInvalidPart(tenant, "tenant");
        ThrowIfInvalidPart(@namespace, "namespace");
        ThrowIfInvalidPart(name, "topic");
        Tenant = tenant;
        Namespace = @namespace;
        Name = name;
    }

    public string Tenant { get; }

    public string Namespace { get; }

    public string Name { get; }

    /// <summary>True for Sluice's internal topics (cursors, registrations), which clients may not address.</summary>
    public bool IsInternal => Tenant.StartsWith(InternalTenantPrefix, StringComparison.Ordinal);

    /// <summary>Parses <c>tenant/namespace/name</c>; throws <see cref="InvalidNameException"/> when malformed.</summary>
    public static TopicName Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var parts = value.Split('/');
        if (parts.Length != 3)
        {
            throw new InvalidNameException($"topic name '{Printable(value)}' must have exactly three parts: tenant/namespace/name");
        }

        return new TopicName(parts[0], parts[1], parts[2]);
    }

    /// <summary>Checks one name part (tenant, namespace, topic or subscription name).</summary>
    public static bool IsValidPart(string? part, [NotNullWhen(false)] out string? reason)
    {
        if (string.IsNullOrEmpty(part))
        {
            reason = "must not be empty";
            return false;
        }

        if (Encoding.UTF8.GetByteCount(part) > MaxPartBytes)
        {
            reason = $"must be at most {MaxPartBytes} bytes";
            return false;
        }

        if (part is "." or "..")
        {
            reason = "must not be '.' or '..'";
            return false;
        }

        foreach (var c in part)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                reason = char.IsControl(c)
                    ? "must not contain control characters"
                    : c is '/' or '\\'
                        ? "must not contain path separators"
                        : $"may contain only letters, digits, '-', '_' and '.' (found '{c}')";
                return false;
            }
        }

        reason = null;
        return true;
    }

    /// <summary>Throws <see cref="InvalidNameException"/> naming <paramref name="what"/> when the part is invalid.</summary>
    public static void ThrowIfInvalidPart(string? part, string what)
    {
        if (!IsValidPart(part, out var reason))
        {
            throw new InvalidNameException($"{what} name '{Printable(part)}' {reason}");
        }
    }

    public override string ToString() => $"{Tenant}/{Namespace}/{Name}";

    // Never echo control characters back into messages or logs.
    private static string Printable(string? s)
    {
        if (s is null)
        {
            return "";
        }

        var sb = new StringBuilder(Math.Min(s.Length, 300));
        foreach (var c in s.AsSpan(0, Math.Min(s.Length, 300)))
        {
            sb.Append(char.IsControl(c) ? '?' : c);
        }

        return sb.ToString();
    }
}
