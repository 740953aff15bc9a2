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
            var read = field switch
            {
                Field.Value => ReadValue(ref reader, record),
                Field.Key => ReadKey(ref reader, record),
                Field.ValueBase64 => ReadValueBase64(ref reader, record),
                Field.Headers => ReadHeaders(ref reader, record),
                Field.Partition => ReadPartition(ref reader, record),
                Field.DeliverAt => ReadDeliverAt(ref reader, record),
                _ => ReadDeliverAfter(ref reader, record),
            };
            if (!read)
            {
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

    private static bool ReadValue(ref Utf8JsonReader reader, BatchRecord record)
    {
        record.Value = RecordValueConverter.ReadValue(ref reader);
        return true;
    }

    private static bool ReadKey(ref Utf8JsonReader reader, BatchRecord record)
    {
        record.Key = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return reader.TokenType is JsonTokenType.String or JsonTokenType.Null;
    }

    private static bool ReadValueBase64(ref Utf8JsonReader reader, BatchRecord record)
    {
        record.ValueBase64 = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return reader.TokenType is JsonTokenType.String or JsonTokenType.Null;
    }

    private static bool ReadHeaders(ref Utf8JsonReader reader, BatchRecord record)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var headers = new Dictionary<string, string>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (!reader.Read() || reader.TokenType != JsonTokenType.String || !headers.TryAdd(name, reader.GetString()!))
            {
                return false;
            }
        }

        record.Headers = headers;
        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool ReadPartition(ref Utf8JsonReader reader, BatchRecord record)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var partition))
        {
            return false;
        }

        record.Partition = partition;
        return true;
    }

    private static bool ReadDeliverAt(ref Utf8JsonReader reader, BatchRecord record)
    {
        // A JSON null is left to the serializer, whose answer for a nullable element is the one that counts.
        if (reader.TokenType == JsonTokenType.Null)
        {
            return false;
        }

        record.DeliverAt = JsonElement.ParseValue(ref reader);
        return true;
    }

    private static bool ReadDeliverAfter(ref Utf8JsonReader reader, BatchRecord record)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var ms))
        {
            return false;
        }

        record.DeliverAfterMs = ms;
        return true;
    }
}
