using System.Text;

namespace Sluice.Cli.Consume;

/// <summary>Reads Server-Sent Events from a response body: the <c>data</c> of each event whose type is <c>message</c>.</summary>
internal static class SseReader
{
    public static async IAsyncEnumerable<string> ReadMessagesAsync(Stream body, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(body, new UTF8Encoding(false));
        var data = new StringBuilder();
        var eventType = "message";
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0 && eventType == "message")
                {
                    yield return data.ToString();
                }

                data.Clear();
                eventType = "message";
                continue;
            }

            if (line[0] == ':')
            {
                continue; // keep-alive comment
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            value = value.StartsWith(' ') ? value[1..] : value; // one space after the colon is the field's, not the value's
            switch (field)
            {
                case "data":
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    break;
                case "event":
                    eventType = value;
                    break;
            }
        }
    }
}
