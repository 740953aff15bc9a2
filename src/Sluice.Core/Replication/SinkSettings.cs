using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Sluice.Core.Replication;

/// <summary>
/// The fields of a replicator's <c>sink</c> object as a sink type reads them, secrets resolved. Each read marks the field
/// as known; whatever is left unread afterwards is refused as an unknown field. Every problem names its field
/// (<c>sink.table</c>). Messages never quote a value: it may hold a secret.
/// </summary>
public sealed class SinkSettings
{
    private readonly Dictionary<string, JsonElement> _fields = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    internal SinkSettings(JsonElement sink, IEnumerable<string> readByEngine)
    {
        foreach (var p in sink.EnumerateObject())
        {
            _fields[p.Name] = p.Value;
        }

        _read.UnionWith(readByEngine);
    }

    /// <summary>The request path of a field: <c>sink.</c> + its name.</summary>
    public static string PathOf(string name) => "sink." + name;

    public bool Has(string name) => _fields.ContainsKey(name);

    /// <summary>A string field, or null when absent; refused when present and not a non-empty string.</summary>
    public string? String(string name)
    {
        if (!Take(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } s)
        {
            throw Error(name, "must be a non-empty string");
        }

        return s;
    }

    public string RequiredString(string name) => String(name) ?? Missing<string>(name);

    /// <summary>An integer field between <paramref name="min"/> and <paramref name="max"/>, or null when absent.</summary>
    public long? Integer(string name, long min, long max)
    {
        if (!Take(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n) || n < min || n > max)
        {
            throw Error(name, $"must be an integer between {min} and {max}");
        }

        return n;
    }

    public bool? Bool(string name)
    {
        if (!Take(name, out var value))
        {
            return null;
        }

        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw Error(name, "must be true or false");
        }

        return value.GetBoolean();
    }

    /// <summary>A string field that must be one of <paramref name="allowed"/>, or null when absent.</summary>
    public string? OneOf(string name, params string[] allowed)
    {
        var s = String(name);
        if (s is not null && !allowed.Contains(s, StringComparer.Ordinal))
        {
            Fail(name, $"must be one of {string.Join(", ", allowed)}");
        }

        return s;
    }

    /// <summary>An object of string values (extra headers, say), or null when absent.</summary>
    public IReadOnlyDictionary<string, string>? StringMap(string name, int maxEntries)
    {
        if (!Take(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Fail(name, "must be an object of strings");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
            {
                Fail($"{name}.{p.Name}", "must be a string");
            }

            map[p.Name] = p.Value.GetString()!;
        }

        if (map.Count > maxEntries)
        {
            Fail(name, $"may hold at most {maxEntries} entries");
        }

        return map;
    }

    /// <summary>Refuses the request: 400 naming <c>sink.</c><paramref name="name"/>.</summary>
    [DoesNotReturn]
    public static void Fail(string name, string message) => throw Error(name, message);

    /// <summary>The exception <see cref="Fail"/> throws, for <c>throw</c> expressions.</summary>
    public static SinkSettingsException Error(string name, string message) => new(PathOf(name), $"{PathOf(name)} {message}");

    /// <summary>Fields present but never read: unknown to the sink.</summary>
    internal IEnumerable<string> Unread() => _fields.Keys.Where(k => !_read.Contains(k));

    [DoesNotReturn]
    private static T Missing<T>(string name) => throw new SinkSettingsException(PathOf(name), $"{PathOf(name)} is required");

    private bool Take(string name, out JsonElement value)
    {
        _read.Add(name);
        return _fields.TryGetValue(name, out value) && value.ValueKind != JsonValueKind.Null;
    }
}
