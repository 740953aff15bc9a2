using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.Server.Produce;

/// <summary>
/// A batch record's <c>"value"</c>, already as the bytes to store: a JSON string as its UTF-8 text, any other
/// JSON value as its JSON text, <c>null</c> as a tombstone (<see cref="Bytes"/> null). An absent <c>"value"</c>
/// leaves the property itself null, so "tombstone" and "missing" stay apart.
/// </summary>
internal sealed class RecordValue(byte[]? bytes)
{
    public static readonly RecordValue Tombstone = new(null);

    public byte[]? Bytes { get; } = bytes;
}

/// <summary>
/// Reads <see cref="RecordValue"/> straight from the reader: a string value is copied (unescaped) into one
/// array, without the <see cref="JsonElement"/> clone and string round trip a general value would cost
/// (measured: those two were most of a 1,000-record batch's parse time).
/// </summary>
internal sealed class RecordValueConverter : JsonConverter<RecordValue>
{
    public override bool HandleNull => true;

    public override RecordValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => ReadValue(ref reader);

    /// <summary>The value at the reader's current token (also what <see cref="BatchRecordReader"/> calls).</summary>
    public static RecordValue ReadValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return RecordValue.Tombstone;
            case JsonTokenType.String when !reader.ValueIsEscaped:
                return new RecordValue(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan.ToArray());
            case JsonTokenType.String:
                {
                    var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
                    var buffer = new byte[length]; // unescaping never makes a string longer
                    var written = reader.CopyString(buffer);
                    return new RecordValue(written == length ? buffer : buffer.AsSpan(0, written).ToArray());
                }

            default:
                using (var document = JsonDocument.ParseValue(ref reader))
                {
                    return new RecordValue(Encoding.UTF8.GetBytes(document.RootElement.GetRawText()));
                }
        }
    }

    public override void Write(Utf8JsonWriter writer, RecordValue value, JsonSerializerOptions options)
    {
        if (value.Bytes is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStringValue(value.Bytes);
        }
    }
}
