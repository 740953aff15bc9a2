using System.Text.Json;

namespace Sluice.Cli.Output;

/// <summary>Request bodies carry only the fields the user gave: the server keeps its defaults for the others.</summary>
internal static class JsonWriterExtensions
{
    public static void WriteIfGiven(this Utf8JsonWriter writer, string name, long? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
    }

    public static void WriteIfGiven(this Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    public static void WriteIfGiven(this Utf8JsonWriter writer, string name, bool? value)
    {
        if (value is { } v)
        {
            writer.WriteBoolean(name, v);
        }
    }

    /// <summary>The body of an ack: <c>{"ackIds":[...]}</c>.</summary>
    public static byte[] AckBody(IEnumerable<string> ackIds) => JsonOutput.Build(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("ackIds");
        foreach (var id in ackIds)
        {
            w.WriteStringValue(id);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });
}
