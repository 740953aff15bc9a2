using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Sluice.Cli.Connection;

/// <summary>
/// HTTP to one Sluice server. Every failure becomes a <see cref="CliException"/> with the exit code for its kind: an
/// RFC 9457 problem is shown as its status, kind and detail; an unreachable server says so with where its address came
/// from. The token goes in the Authorization header and nowhere else (never in a message).
/// </summary>
internal sealed class SluiceClient : IDisposable
{
    // Longer than the longest long-poll (60 s) the server allows, so a pull is never cut short by the client.
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(90);

    private readonly HttpClient _http;
    private readonly ClientSettings _settings;

    public SluiceClient(ClientSettings settings, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(10) })
        {
            BaseAddress = settings.Server,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("sluice-cli", typeof(SluiceClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
        if (settings.Token is { } token)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public Uri Server => _settings.Server;

    /// <summary>Sends a request and returns its JSON answer (null for an empty one, e.g. 204).</summary>
    public async Task<JsonDocument?> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        configure?.Invoke(request);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        using var response = await SendCheckedAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new CliException(ExitCodes.ServerError, $"{method} {path}: the server answered {(int)response.StatusCode} with a body that is not JSON");
        }
    }

    /// <summary>A GET whose 404 means "absent" rather than an error.</summary>
    public async Task<JsonDocument?> GetOrNullAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        }
        catch (CliException ex) when (ex.ExitCode == ExitCodes.NotFound)
        {
            return null;
        }
    }

    public Task<JsonDocument?> SendJsonAsync(HttpMethod method, string path, byte[] json, CancellationToken cancellationToken) =>
        SendAsync(method, path, JsonBody(json), cancellationToken);

    /// <summary>Opens a streaming answer (SSE): returns once the headers arrived with a success status; the caller reads and disposes it.</summary>
    public Task<HttpResponseMessage> OpenStreamAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        SendCheckedAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken, cancellationToken);

    public static ByteArrayContent JsonBody(byte[] json)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private async Task<HttpResponseMessage> SendCheckedAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken token, CancellationToken userToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, token);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException(ExitCodes.Unavailable, $"cannot reach the server at {Describe()}: {ex.Message}");
        }
        catch (OperationCanceledException) when (!userToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Unavailable, $"no answer from the server at {Describe()} within {RequestTimeout.TotalSeconds:0} s");
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(token);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                body = "";
            }

            throw FromError(response, body, request.Method, request.RequestUri?.OriginalString ?? "");
        }
    }

    private CliException FromError(HttpResponseMessage response, string body, HttpMethod method, string path)
    {
        var status = (int)response.StatusCode;
        var text = new StringBuilder().Append(status);
        if (TryReadProblem(body, out var kind, out var title, out var detail))
        {
            text.Append(' ').Append(kind ?? "error").Append(": ").Append(detail ?? title ?? response.ReasonPhrase);
        }
        else
        {
            text.Append(' ').Append(response.ReasonPhrase).Append(" from ").Append(method).Append(' ').Append(path);
            if (body.Length > 0)
            {
                text.Append(": ").Append(Printable(body, 300));
            }
        }

        if (status == 401)
        {
            text.Append(_settings.TokenSource is null
                ? " (no token was sent: give one with --token, SLUICE_TOKEN or the config file)"
                : $" (the token from {_settings.TokenSource} was refused)");
        }
        else if (response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter?.Delta is { } retry)
        {
            text.Append($" (retry after {retry.TotalSeconds:0} s)");
        }

        return new CliException(ExitCodes.ForStatus(status), text.ToString());
    }

    /// <summary>Reads an RFC 9457 problem: <c>kind</c> is the end of <c>urn:sluice:problem:&lt;kind&gt;</c> (or the whole type).</summary>
    private static bool TryReadProblem(string body, out string? kind, out string? title, out string? detail)
    {
        kind = title = detail = null;
        if (body.Length == 0 || body[0] != '{')
        {
            return false;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String)
            {
                var t = type.GetString()!;
                const string prefix = "urn:sluice:problem:";
                kind = t.StartsWith(prefix, StringComparison.Ordinal) ? t[prefix.Length..] : t;
            }

            title = root.TryGetProperty("title", out var ti) && ti.ValueKind == JsonValueKind.String ? Printable(ti.GetString()!, 300) : null;
            detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? Printable(d.GetString()!, 1000) : null;
            return kind is not null || title is not null || detail is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private string Describe() => $"{_settings.Server} (from {_settings.ServerSource})";

    internal static string Printable(string s, int max)
    {
        var chars = s.Take(max).Select(c => char.IsControl(c) ? ' ' : c).ToArray();
        return new string(chars) + (s.Length > max ? "..." : "");
    }

    public void Dispose() => _http.Dispose();
}
