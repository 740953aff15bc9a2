using System.Text.Json;
using System.Text.Json.Serialization;
using Sluice.Core.Subscriptions;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Reads an array of ack ids (an ack or nack body's <c>ackIds</c>, a WebSocket consumer frame's <c>ack</c> and
/// <c>nack</c>) straight into an <see cref="AckIdList"/>: each id parsed from the UTF-8 bytes, a string made only for one
/// that is escaped, not in the engine's form or not an id. Anything but strings (and <c>null</c>, which the endpoints
/// refuse as an empty id) is not an array of ack ids.
/// </summary>
internal sealed class AckIdListJsonConverter : JsonConverter<AckIdList>
{
    public override AckIdList Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("ack ids must be an array of strings");
        }

        var ids = new AckIdList();
        try
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.String when !reader.ValueIsEscaped && !reader.HasValueSequence:
                        ids.AddUtf8(reader.ValueSpan);
                        break;
                    case JsonTokenType.String or JsonTokenType.Null:
                        ids.Add(reader.GetString());
                        break;
                    default:
                        throw new JsonException("ack ids must be an array of strings");
                }
            }
        }
        catch
        {
            // Refused part way: its pooled storage goes back now (a list returned is its reader's to dispose).
            ids.Dispose();
            throw;
        }

        return ids;
    }

    public override void Write(Utf8JsonWriter writer, AckIdList value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var id in value)
        {
            writer.WriteStringValue(id);
        }

        writer.WriteEndArray();
    }
}
