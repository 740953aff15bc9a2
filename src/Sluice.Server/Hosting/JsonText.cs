using System.Text.Json;
using System.Text.Unicode;

namespace Sluice.Server.Hosting;

/// <summary>
/// Checks that JSON is text before it is parsed: valid UTF-8, and no escaped lone surrogate (<c>"\ud800"</c>) in a
/// string. The reader checks neither until a string is read as .NET text, which some handlers do long after parsing
/// (a position kept as a <see cref="JsonElement"/>, a batch value copied as bytes): bad text would then be a 500, or
/// be stored.
/// </summary>
internal static class JsonText
{
    /// <summary>Null when <paramref name="json"/> is text; else what is wrong (never the bytes themselves).</summary>
    public static string? Invalid(ReadOnlySpan<byte> json)
    {
        // Vectorised: a few GB/s, nothing beside a batch's parse.
        if (!Utf8.IsValid(json))
        {
            return $"it is not valid UTF-8 (first bad byte at {FirstInvalid(json)})";
        }

        // Escapes are rare; only a body with one pays for the second pass.
        return json.IndexOf(@"\u"u8) < 0 ? null : InvalidEscape(json);
    }

    private static string? InvalidEscape(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        Span<char> scratch = stackalloc char[256];
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped)
                {
                    continue;
                }

                var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
                var buffer = length <= scratch.Length ? scratch : new char[length];
                try
                {
                    reader.CopyString(buffer);
                }
                catch (InvalidOperationException)
                {
                    return $"a string at byte {reader.TokenStartIndex} escapes a lone surrogate (\\uD800 to \\uDFFF), which is not text";
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: the deserializer says where and why.
        }

        return null;
    }

    private static int FirstInvalid(ReadOnlySpan<byte> json)
    {
        var valid = 0;
        while (valid < json.Length)
        {
            var result = System.Text.Rune.DecodeFromUtf8(json[valid..], out _, out var consumed);
            if (result != System.Buffers.OperationStatus.Done)
            {
                return valid;
            }

            valid += consumed;
        }

        return valid;
    }
}
