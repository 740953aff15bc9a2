using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Sluice.Server.Tests.Streaming;

/// <summary>One received Server-Sent Event (comments and <c>retry:</c> lines are kept too, as their own entries).</summary>
public sealed record SseEvent(string? Id, string? Event, string? Data, string? Comment, int? Retry)
{
    public JsonElement Json => JsonDocument.Parse(Data!).RootElement.Clone();
}

/// <summary>
/// A minimal SSE client over a real HTTP connection (what a browser's EventSource does): opens the stream with
/// optional <c>Last-Event-ID</c>, parses events as they arrive, and can be dropped mid-stream by disposing it.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseClient(HttpClient http, HttpResponseMessage response, StreamReader reader)
    {
        _http = http;
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    public string? LastEventId { get; private set; }

    /// <summary>Opens the stream; asserts 200 and text/event-stream.</summary>
    public static async Task<SseClient> OpenAsync(Uri baseAddress, string pathAndQuery, string? lastEventId = null, string accept = "text/event-stream")
    {
        // A fresh connection per stream, like a browser reconnecting.
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync();
            response.Dispose();
            http.Dispose();
            throw new InvalidOperationException($"GET {pathAndQuery} answered {(int)response.StatusCode}: {body}");
        }

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = await response.Content.ReadAsStreamAsync();
        return new SseClient(http, response, new StreamReader(stream, Encoding.UTF8));
    }

    /// <summary>The next event, comment or retry; null at the end of the stream; throws TimeoutException after <paramref name="timeout"/>.</summary>
    public async Task<SseEvent?> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        string? id = null, ev = null, comment = null;
        int? retry = null;
        StringBuilder? data = null;
        var any = false;
        while (true)
        {
            string? line;
            try
            {
                line = await _reader.ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no SSE event within {timeout}");
            }

            if (line is null)
            {
                return null;
            }

            if (line.Length == 0)
            {
                if (!any)
                {
                    continue;
                }

                if (id is not null)
                {
                    LastEventId = id;
                }

                return new SseEvent(id, ev, data?.ToString(), comment, retry);
            }

            any = true;
            if (line[0] == ':')
            {
                comment = line[1..].Trim();
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": ev = value; break;
                case "data": (data ??= new StringBuilder()).Append(value); break;
                case "retry": retry = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            }
        }
    }

    /// <summary>The next <paramref name="count"/> message events (comments skipped).</summary>
    public async Task<List<SseEvent>> MessagesAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var result = new List<SseEvent>(count);
        while (result.Count < count)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{result.Count} of {count} messages within {timeout}");
            }

            var e = await NextAsync(left) ?? throw new InvalidOperationException($"the stream ended after {result.Count} of {count} messages");
            if (e.Event == "message")
            {
                result.Add(e);
            }
        }

        return result;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
