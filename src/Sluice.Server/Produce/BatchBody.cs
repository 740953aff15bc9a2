using System.Text.Json;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;

namespace Sluice.Server.Produce;

/// <summary>
/// Parses a batch's body: JSON (<c>{"messages":[...]}</c>) or NDJSON (one JSON object per line; blank lines skipped).
/// </summary>
/// <remarks>
/// Two paths, one answer. A body of the plain shape (exact camel-case field names, each once, values of their own
/// types) is checked for text once and read with one <see cref="Utf8JsonReader"/> by <see cref="BatchRecordReader"/>:
/// the serializer's per-record machinery (its read stack and property lookup, and for NDJSON a text check, a reader and
/// a scan ahead to scope each line) was a fifth of an NDJSON batch's CPU. Anything else, valid or not, goes to the
/// serializer, which accepts what it accepts (any case of a field name, a repeated field) and says what is wrong (for
/// NDJSON line by line, naming the line).
/// </remarks>
internal static class BatchBody
{
    public const string NdjsonContentType = "application/x-ndjson";

    private static readonly JsonReaderOptions MultipleValues = new() { AllowMultipleValues = true };

    public static List<BatchRecord> Parse(string? contentType, ReadOnlySpan<byte> body)
    {
        var mediaType = MediaType(contentType);
        if (mediaType.Equals(NdjsonContentType, StringComparison.OrdinalIgnoreCase))
        {
            return (IsText(body) ? TryReadNdjson(body) : null) ?? ParseNdjsonByLine(body);
        }

        if (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.Length == 0)
        {
            return (IsText(body) ? TryReadJson(body) : null) ?? HttpRequestReader.Deserialize(body, SluiceJsonContext.Api.BatchRequest, "the batch")?.Messages ?? [];
        }

        throw new ProblemException(ProblemKind.UnsupportedMediaType,
            $"a batch must be application/json ({{\"messages\":[...]}}) or {NdjsonContentType} (one record per line); got '{ProblemWriter.Printable(mediaType.ToString(), 100)}'");
    }

    // Checked once for the whole body; a body that is not text goes to the parse that says where and why.
    private static bool IsText(ReadOnlySpan<byte> body) => JsonText.Invalid(body) is null;

    private static ReadOnlySpan<char> MediaType(string? contentType)
    {
        if (contentType is null)
        {
            return "application/json";
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semicolon < 0 ? contentType.AsSpan() : contentType.AsSpan(0, semicolon)).Trim();
    }

    /// <summary><c>{"messages":[record, ...]}</c> and nothing else; null for anything the serializer should see.</summary>
    private static List<BatchRecord>? TryReadJson(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject
                || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || reader.ValueIsEscaped || !reader.ValueSpan.SequenceEqual("messages"u8)
                || !reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return null;
            }

            var records = new List<BatchRecord>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (BatchRecordReader.TryRead(ref reader) is not { } record)
                {
                    return null;
                }

                records.Add(record);
            }

            // The array's end, the object's end, then the end of the body (the reader throws on anything after it).
            return reader.TokenType == JsonTokenType.EndArray && reader.Read() && reader.TokenType == JsonTokenType.EndObject && !reader.Read() ? records : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>One record object alone on each line; null for anything the line-by-line parse should see.</summary>
    private static List<BatchRecord>? TryReadNdjson(ReadOnlySpan<byte> body)
    {
        var records = new List<BatchRecord>(body.Count((byte)'\n') + 1);
        var reader = new Utf8JsonReader(body, MultipleValues);
        var previousEnd = 0;
        try
        {
            while (reader.Read())
            {
                // Nothing but whitespace since the previous record, and a line break among it.
                var start = checked((int)reader.TokenStartIndex);
                if (records.Count > 0 && !body[previousEnd..start].Contains((byte)'\n'))
                {
                    return null;
                }

                if (BatchRecordReader.TryRead(ref reader) is not { } record)
                {
                    return null;
                }

                var end = checked((int)reader.BytesConsumed);
                if (body[start..end].Contains((byte)'\n'))
                {
                    return null;
                }

                records.Add(record);
                previousEnd = end;
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return records;
    }

    /// <summary>Line by line through the serializer, so that an error names its line; throws the first problem found.</summary>
    private static List<BatchRecord> ParseNdjsonByLine(ReadOnlySpan<byte> body)
    {
        var records = new List<BatchRecord>();
        var rest = body;
        var line = 0;
        while (rest.Length > 0)
        {
            line++;
            var end = rest.IndexOf((byte)'\n');
            var current = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            if (current.Trim(" \t\r"u8).Length == 0)
            {
                continue;
            }

            var record = HttpRequestReader.Deserialize(current, SluiceJsonContext.Api.BatchRecord, $"NDJSON line {line}");
            if (record is null)
            {
                ProblemException.Throw(ProblemKind.MalformedJson, $"NDJSON line {line} is null; each line must be a JSON object such as {{\"value\":\"...\"}}");
            }

            records.Add(record);
        }

        return records;
    }
}
