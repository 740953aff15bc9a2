using System.Text;

namespace Sluice.Compat.Tests.Infrastructure;

/// <summary>One Server-Sent Event: its id and its data lines joined with newlines, as EventSource gives them.</summary>
public sealed record SseEvent(string? Id, string Data);

/// <summary>Reads events from a <c>text/event-stream</c> response, line by line (comments skipped).</summary>
public sealed class SseReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    public async Task<SseEvent> NextAsync(CancellationToken cancellationToken)
    {
        string? id = null;
        var data = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException("the stream ended");
            if (line.Length == 0)
            {
                if (data.Count > 0)
                {
                    return new SseEvent(id, string.Join('\n', data));
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            if (field == "id")
            {
                id = value;
            }
            else if (field == "data")
            {
                data.Add(value);
            }
        }
    }

    public void Dispose() => _reader.Dispose();
}
