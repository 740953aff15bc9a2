using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sluice.Core.Replication;

/// <summary>
/// <c>${secret:name}</c> references in sink settings: resolved against the replicator's write-only secrets just before a
/// sink reads them, and scrubbed back out of anything that could reach an answer or a log line.
/// </summary>
public static partial class SecretReferences
{
    public const int MaxSecrets = 32;
    public const int MaxValueLength = 64 * 1024;

    /// <summary>Null when the secrets map is acceptable, otherwise the field and the reason (never the value).</summary>
    public static (string Field, string Reason)? Validate(IReadOnlyDictionary<string, string> secrets)
    {
        if (secrets.Count > MaxSecrets)
        {
            return ("secrets", $"secrets may hold at most {MaxSecrets} entries; got {secrets.Count}");
        }

        foreach (var (name, value) in secrets)
        {
            if (!NamePattern().IsMatch(name))
            {
                return ("secrets", "secret names must be 1 to 64 letters, digits, '_', '-' or '.'");
            }

            if (string.IsNullOrEmpty(value) || value.Length > MaxValueLength)
            {
                return ($"secrets.{name}", $"secrets.{name} must be a string of 1 to {MaxValueLength} characters");
            }
        }

        return null;
    }

    /// <summary>
    /// The sink object with every reference replaced by its secret. Throws <see cref="SinkSettingsException"/> naming the
    /// field that refers to a secret that is not set.
    /// </summary>
    public static JsonElement Resolve(JsonElement sink, IReadOnlyDictionary<string, string> secrets)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, sink, "sink", secrets);
        }

        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }

    /// <summary>Names of the secrets that <paramref name="sink"/> refers to.</summary>
    public static IEnumerable<string> Referenced(JsonElement sink)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        Collect(sink, names);
        return names;
    }

    /// <summary><paramref name="text"/> with every secret value (also URL-escaped) replaced by <c>***</c>.</summary>
    public static string Scrub(string text, IReadOnlyDictionary<string, string> secrets)
    {
        if (secrets.Count == 0 || string.IsNullOrEmpty(text))
        {
            return text;
        }

        var sb = new StringBuilder(text);
        foreach (var value in secrets.Values.SelectMany(v => new[] { v, Uri.EscapeDataString(v) }).Distinct().OrderByDescending(v => v.Length))
        {
            if (value.Length > 0)
            {
                sb.Replace(value, "***");
            }
        }

        return sb.ToString();
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element, string path, IReadOnlyDictionary<string, string> secrets)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var p in element.EnumerateObject())
                {
                    writer.WritePropertyName(p.Name);
                    Write(writer, p.Value, path + "." + p.Name, secrets);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item, $"{path}[{i++}]", secrets);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                var text = element.GetString()!;
                writer.WriteStringValue(text.Contains("${secret:", StringComparison.Ordinal)
                    ? Reference().Replace(text, m => secrets.TryGetValue(m.Groups["name"].Value, out var v)
                        ? v
                        : throw new SinkSettingsException(path, $"{path} refers to secret '{m.Groups["name"].Value}', which is not in secrets"))
                    : text);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    private static void Collect(JsonElement element, SortedSet<string> names)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in element.EnumerateObject())
                {
                    Collect(p.Value, names);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, names);
                }

                break;
            case JsonValueKind.String:
                foreach (Match m in Reference().Matches(element.GetString()!))
                {
                    names.Add(m.Groups["name"].Value);
                }

                break;
        }
    }

    [GeneratedRegex(@"\$\{secret:(?<name>[A-Za-z0-9_.-]{1,64})\}")]
    private static partial Regex Reference();

    [GeneratedRegex(@"^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex NamePattern();
}
