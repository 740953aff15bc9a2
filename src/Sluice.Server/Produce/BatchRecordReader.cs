using System.Text.Json;

namespace Sluice.Server.Produce;

/// <summary>
/// Reads one <see cref="BatchRecord"/> of the plain shape straight from a <see cref="Utf8JsonReader"/>: camel-case field
/// names as documented, each at most once, each value of its own type (or null). Anything else returns null, and the
/// caller leaves the body to the serializer, so both paths accept the same bodies and give the same records.
/// </summary>
internal static class BatchRecordReader
{
    [Flags]
    private enum Field
    {
        None = 0,
        Key = 1,
        Value = 2,
        ValueBase64 = 4,
        Headers = 8,
        Partition = 16,
        DeliverAt = 32,
        DeliverAfterMs = 64,
    }

    /// <summary>At the record's first token; on success the reader is at its <c>}</c>.</summary>
    public static BatchRecord? TryRead(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        var record = new BatchRecord();
        var seen = Field.None;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return record;
            }

            var field = reader.ValueIsEscaped ? Field.None : Name(reader.ValueSpan);
            if (field == Field.None || (seen & field) != 0 || !reader.Read())
            {
                return null;
            }

            seen |= field;
            switch (field)
            {
                case Field.Value:
                    record.Value = RecordValueConverter.ReadValue(ref reader);
                    break;
                case Field.Key when TryReadString(ref reader, out var key):
                    record.Key = key;
                    break;
                case Field.ValueBase64 when TryReadString(ref reader, out var base64):
                    record.ValueBase64 = base64;
                    break;
                case Field.Headers when TryReadHeaders(ref reader, out var headers):
                    record.Headers = headers;
                    break;
                case Field.Partition when TryReadInteger(ref reader, out var partition) && partition is null or (>= int.MinValue and <= int.MaxValue):
                    record.Partition = (int?)partition;
                    break;
                case Field.DeliverAfterMs when TryReadInteger(ref reader, out var delay):
                    record.DeliverAfterMs = delay;
                    break;

                // A JSON null is left to the serializer, whose answer for a nullable element is the one that counts.
                case Field.DeliverAt when reader.TokenType != JsonTokenType.Null:
                    record.DeliverAt = JsonElement.ParseValue(ref reader);
                    break;
                default:
                    return null;
            }
        }

        return null;
    }

    private static Field Name(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 when name.SequenceEqual("key"u8) => Field.Key,
        5 when name.SequenceEqual("value"u8) => Field.Value,
        7 when name.SequenceEqual("headers"u8) => Field.Headers,
        9 when name.SequenceEqual("partition"u8) => Field.Partition,
        9 when name.SequenceEqual("deliverAt"u8) => Field.DeliverAt,
        11 when name.SequenceEqual("valueBase64"u8) => Field.ValueBase64,
        14 when name.SequenceEqual("deliverAfterMs"u8) => Field.DeliverAfterMs,
        _ => Field.None,
    };

    /// <summary>A string or null.</summary>
    private static bool TryReadString(ref Utf8JsonReader reader, out string? value)
    {
        value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return reader.TokenType is JsonTokenType.String or JsonTokenType.Null;
    }

    /// <summary>A whole number that fits 64 bits, or null (a fraction, an exponent or a quoted number is the serializer's to refuse).</summary>
    private static bool TryReadInteger(ref Utf8JsonReader reader, out long? value)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var number))
        {
            return false;
        }

        value = number;
        return true;
    }

    /// <summary>An object of string values with distinct names, or null.</summary>
    private static bool TryReadHeaders(ref Utf8JsonReader reader, out Dictionary<string, string>? headers)
    {
        headers = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        headers = [];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (!reader.Read() || reader.TokenType != JsonTokenType.String || !headers.TryAdd(name, reader.GetString()!))
            {
                return false;
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }
}
