using System.Text;
using System.Text.Json;
using Sluice.Cli.Output;

namespace Sluice.Cli.Consume;

/// <summary>
/// Writes consumed messages: <c>json</c> is the server's message object, one per line (NDJSON); <c>raw</c> is the value's
/// bytes (base64-encoded values decoded) followed by the delimiter. Thread-safe: followed partitions print concurrently.
/// </summary>
internal sealed class MessagePrinter(CliContext context, bool raw, string delimiter)
{
    private readonly Lock _gate = new();
    private readonly byte[] _delimiter = Encoding.UTF8.GetBytes(delimiter);

    public const string FormatHelp = "json: the server's message object per line; raw: the value's bytes and the delimiter";

    public void Print(JsonElement message)
    {
        lock (_gate)
        {
            if (!raw)
            {
                context.Out.WriteLine(JsonOutput.Line(message));
                return;
            }

            context.Out.Flush();
            if (message.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.String)
            {
                var base64 = message.TryGetProperty("valueEncoding", out var encoding) && encoding.GetString() == "base64";
                context.Stdout.Write(base64 ? value.GetBytesFromBase64() : Encoding.UTF8.GetBytes(value.GetString()!));
            }

            context.Stdout.Write(_delimiter);
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            context.Out.Flush();
            context.Stdout.Flush();
        }
    }
}
