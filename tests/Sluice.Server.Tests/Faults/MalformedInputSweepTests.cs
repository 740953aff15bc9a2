using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Faults;

/// <summary>
/// A malformed-input sweep over every route of the server's own OpenAPI document, so routes added later (compatibility
/// APIs, replicators, delayed messages) are swept without touching this test: hostile path values, query values and
/// bodies. No answer is a 5xx, nothing is logged as an unhandled failure, and every 4xx the application writes has the
/// route's error shape: problem+json with a <c>urn:sluice:problem:</c> type, or the ancestor's <c>{"field": "..."}</c>
/// that a compatibility route declares (<c>x-sluice-error-shape</c> in the document).
/// </summary>
[Trait("Backend", "EmbeddedOnly")] // the routes and their validation are the same on Kafka: one pass is enough
public sealed class MalformedInputSweepTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Tenant = "sweep";
    private const string Namespace = "ns";
    private const string Topic = "t";
    private const string Subscription = "s";
    private const string WebhookId = "wh1";

    // Kinds written before routing (so before a route's own shape is known): any route may get these as problem+json.
    private static readonly string[] PreRoutingKinds = ["not-found", "method-not-allowed", "host-not-allowed", "origin-not-allowed"];

    private static readonly string[] HostilePathValues =
    [
        "bad$name", "a b", "%00", "%01x", "..%2F..", "%2E%2E", "%FF%FE", new string('a', 300), "__sluice", "-", ".", "%C0%AE%C0%AE", "x%20y", "%E2%80%AE",
    ];

    private static readonly string[] HostileQueryValues = ["-1", "abc", "99999999999999999999", "", "1.5", "%00", "%FF", "true", new string('9', 400)];

    private ServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await ServerProcess.StartNewAsync(["--allow-private-webhooks", "--max-message-bytes", "65536", "--max-batch-bytes", "1048576"]);

    public async Task DisposeAsync()
    {
        _server.WriteOutputTo(output, lastLines: 60);
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task EveryRoute_WithHostilePathsQueriesAndBodies_NeverAnswers5xx_AndEvery4xxHasTheRoutesErrorShape()
    {
        var routes = await RoutesAsync();
        output.WriteLine($"{routes.Count} routes");
        Assert.True(routes.Count >= 25, $"expected the whole API in the OpenAPI document, found {routes.Count} routes");

        var sent = 0;
        var failures = new List<string>();
        foreach (var route in routes)
        {
            await EnsureFixturesAsync();
            foreach (var (path, query) in PathVariants(route))
            {
                await CheckAsync(route, path + query, null, null);
                sent++;
            }

            if (route.Method != "DELETE")
            {
                foreach (var query in QueryVariants(route))
                {
                    await CheckAsync(route, Fill(route) + query, null, null);
                    sent++;
                }
            }

            if (route.Method is "POST" or "PUT" or "PATCH")
            {
                foreach (var (body, contentType) in BodyVariants(route))
                {
                    await CheckAsync(route, Fill(route) + DefaultQuery(route), body, contentType);
                    sent++;
                }
            }
        }

        output.WriteLine($"{sent} requests");
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join('\n', failures.Take(40)));

        using var health = await _server.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.DoesNotContain("fail: Sluice.Server.Problems.ProblemMiddleware", _server.Output, StringComparison.Ordinal);

        async Task CheckAsync(Route route, string target, byte[]? body, string? contentType)
        {
            if (await CheckOneAsync(route, target, body, contentType) is { } failure)
            {
                failures.Add(failure);
            }
        }
    }

    private sealed record Route(string Method, string Path, string? ErrorField, JsonElement Operation);

    private async Task<string?> CheckOneAsync(Route route, string target, byte[]? body, string? contentType)
    {
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), target);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
            }
        }

        var what = $"{route.Method} {Shorten(target)}" + (body is null ? "" : $" [{contentType}, {body.Length} B: {Shorten(Encoding.UTF8.GetString(body))}]");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        HttpResponseMessage response;
        try
        {
            response = await _server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        }
        catch (HttpRequestException ex)
        {
            // The server cut the connection (an unread body over the limit): a refusal, not a fault.
            return _server.ProcessId is null ? $"{what}: the server died: {ex.Message}" : null;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                return $"{what}: {status} {await ReadAsync(response, cts.Token)}";
            }

            if (status < 400 || response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                return null;
            }

            var text = await ReadAsync(response, cts.Token);
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (status == 400 && text.Length == 0 && mediaType is null && target.Contains("%00", StringComparison.Ordinal))
            {
                // Kestrel's own answer, before any middleware: it refuses a NUL in the decoded path outright.
                return null;
            }

            JsonElement json;
            try
            {
                json = JsonDocument.Parse(text).RootElement;
            }
            catch (JsonException)
            {
                return $"{what}: {status} with a body that is not JSON ({mediaType}): {Shorten(text)}";
            }

            if (text.Any(c => c < ' '))
            {
                return $"{what}: {status} echoes control characters: {Shorten(text)}";
            }

            var isProblem = mediaType == "application/problem+json"
                && json.ValueKind == JsonValueKind.Object
                && json.TryGetProperty("type", out var type) && type.GetString() is { } t && t.StartsWith("urn:sluice:problem:", StringComparison.Ordinal)
                && json.TryGetProperty("status", out var s) && s.GetInt32() == status
                && json.TryGetProperty("detail", out var d) && !string.IsNullOrWhiteSpace(d.GetString());
            if (route.ErrorField is null)
            {
                return isProblem ? null : $"{what}: {status} is not problem+json ({mediaType}): {Shorten(text)}";
            }

            // A compatibility route: its ancestor's shape, or problem+json for what is refused before routing.
            var isField = mediaType == "application/json" && json.ValueKind == JsonValueKind.Object
                && json.TryGetProperty(route.ErrorField, out var field) && field.ValueKind == JsonValueKind.String && field.GetString()!.Length > 0;
            var beforeRouting = isProblem && (PreRoutingKinds.Contains(json.GetProperty("type").GetString()!["urn:sluice:problem:".Length..])
                || json.GetProperty("detail").GetString()!.Contains("in the path may not contain", StringComparison.Ordinal)
                || json.GetProperty("detail").GetString()!.StartsWith("the path may not contain", StringComparison.Ordinal));
            return isField || beforeRouting ? null : $"{what}: {status} is not {{\"{route.ErrorField}\": ...}} ({mediaType}): {Shorten(text)}";
        }
    }

    private static async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 4096));
    }

    private static string Shorten(string s) => s.Length <= 120 ? s : s[..120] + "...";

    private async Task<List<Route>> RoutesAsync()
    {
        using var document = JsonDocument.Parse(await _server.Client.GetStringAsync("/openapi/v1.json"));
        var routes = new List<Route>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (operation.Name is not ("get" or "put" or "post" or "delete" or "patch"))
                {
                    continue;
                }

                string? field = null;
                if (operation.Value.TryGetProperty("x-sluice-error-shape", out var shape) && shape.ValueKind == JsonValueKind.Object)
                {
                    field = shape.GetProperty("field").GetString();
                }
                else
                {
                    Assert.True(shape.ValueKind == JsonValueKind.String, $"{operation.Name} {path.Name} declares no x-sluice-error-shape");
                }

                routes.Add(new Route(operation.Name.ToUpperInvariant(), path.Name, field, operation.Value.Clone()));
            }
        }

        return routes;
    }

    /// <summary>Puts back what the sweep's accepted requests may have deleted or changed; every step is idempotent.</summary>
    private async Task EnsureFixturesAsync()
    {
        var topic = $"{Tenant}/{Namespace}/{Topic}";
        (await _server.Client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 2 }))).Dispose();
        (await _server.Client.PutAsync($"/v1/topics/{topic}/subscriptions/{Subscription}", SluiceApi.Json(new { position = "earliest" }))).Dispose();
        (await _server.Client.PutAsync($"/v1/webhooks/{WebhookId}", SluiceApi.Json(new { topic, url = "http://127.0.0.1:9/hook" }))).Dispose();
        (await _server.Client.PostAsync($"/v1/webhooks/{WebhookId}/pause", null)).Dispose();
    }

    private static string Value(string name, JsonElement operation) => name switch
    {
        "tenant" => Tenant,
        "namespace" => Namespace,
        "topic" => Topic,
        "subscription" or "name" => Subscription,
        "id" => WebhookId,
        _ => ParameterType(name, operation) is "integer" or "number" ? "0" : "x",
    };

    private static string? ParameterType(string name, JsonElement operation)
    {
        if (!operation.TryGetProperty("parameters", out var parameters))
        {
            return null;
        }

        foreach (var p in parameters.EnumerateArray())
        {
            if (p.GetProperty("name").GetString() == name && p.TryGetProperty("schema", out var schema) && schema.TryGetProperty("type", out var type))
            {
                return type.ValueKind == JsonValueKind.String ? type.GetString() : type.EnumerateArray().Select(x => x.GetString()).FirstOrDefault(x => x != "null");
            }
        }

        return null;
    }

    private static IEnumerable<string> PathParameters(Route route)
    {
        var path = route.Path;
        for (var open = path.IndexOf('{', StringComparison.Ordinal); open >= 0; open = path.IndexOf('{', open + 1))
        {
            yield return path[(open + 1)..path.IndexOf('}', open)].TrimEnd('?').Split(':')[0];
        }
    }

    private static string Fill(Route route, string? hostileName = null, string? hostileValue = null)
    {
        var path = route.Path;
        foreach (var name in PathParameters(route).ToList())
        {
            var value = name == hostileName ? hostileValue! : Uri.EscapeDataString(Value(name, route.Operation));
            path = System.Text.RegularExpressions.Regex.Replace(path, "\\{" + System.Text.RegularExpressions.Regex.Escape(name) + "[^}]*\\}", value.Replace("$", "$$", StringComparison.Ordinal));
        }

        return path;
    }

    private static string DefaultQuery(Route route) => route.Path.EndsWith("/messages", StringComparison.Ordinal) && route.Method == "GET" ? "?waitMs=0&partition=0" : "";

    private static IEnumerable<(string Path, string Query)> PathVariants(Route route)
    {
        foreach (var name in PathParameters(route))
        {
            foreach (var value in HostilePathValues)
            {
                yield return (Fill(route, name, value), DefaultQuery(route));
            }
        }
    }

    private static IEnumerable<string> QueryVariants(Route route)
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { "max", "waitMs", "partition", "offset", "from", "key", "async", "consumer", "ack", "position", "type", "permits", "envelope" };
        if (route.Operation.TryGetProperty("parameters", out var parameters))
        {
            foreach (var p in parameters.EnumerateArray())
            {
                if (p.GetProperty("in").GetString() == "query")
                {
                    names.Add(p.GetProperty("name").GetString()!);
                }
            }
        }

        foreach (var name in names)
        {
            foreach (var value in HostileQueryValues)
            {
                yield return $"?{name}={value}";
            }

            yield return $"?{name}=1&{name}=2";
        }
    }

    private static IEnumerable<(byte[] Body, string? ContentType)> BodyVariants(Route route)
    {
        var json = "application/json";
        yield return ("{"u8.ToArray(), json);
        yield return ("[]"u8.ToArray(), json);
        yield return ("null"u8.ToArray(), json);
        yield return ("\"text\""u8.ToArray(), json);
        yield return ("12345678901234567890"u8.ToArray(), json);
        yield return ("{\"unknownField\":1}"u8.ToArray(), json);
        yield return ([.. "{\"a\":\""u8, 0xFF, 0xFE, .. "\"}"u8], json);
        yield return ("{\"a\":\"\\ud800\"}"u8.ToArray(), json);

        // Bad text where handlers read it: positions, record values, ids, URLs.
        yield return ([.. "{\"position\":\""u8, 0xFF, .. "\"}"u8], json);
        yield return ("{\"position\":\"\\udc00\"}"u8.ToArray(), json);
        yield return ("{\"messages\":[{\"value\":\"\\ud800\"}]}"u8.ToArray(), json);
        yield return ([.. "{\"messages\":[{\"value\":{\"k\":\""u8, 0xC0, 0xAF, .. "\"}}]}"u8], json);
        yield return ([.. "{\"ackIds\":[\""u8, 0xFF, .. "\"],\"topic\":\"a/b/"u8, 0xFE, .. "\",\"url\":\"http://"u8, 0xFF, .. "\"}"u8], json);
        yield return (Encoding.UTF8.GetBytes(new string('[', 3000) + new string(']', 3000)), json);
        yield return (Encoding.UTF8.GetBytes("{\"a\":\"" + new string('x', 2 * 1024 * 1024) + "\"}"), json);
        yield return ("{\"messages\":\"x\",\"position\":{\"offset\":-1},\"ackIds\":[1],\"topic\":\"a/b\",\"url\":\"ftp://x\",\"partitions\":-3}"u8.ToArray(), json);
        yield return ("{\"position\":{\"offset\":99999999,\"partition\":0},\"delayMs\":-1,\"retentionMs\":-1,\"concurrency\":0}"u8.ToArray(), json);
        yield return ("a,b\n1,2"u8.ToArray(), "text/csv");
        yield return ([], json);
        yield return ([0x00, 0x01, 0xFF], "application/octet-stream");
        yield return ("{\"value\":\"x\"}\n{broken\n"u8.ToArray(), "application/x-ndjson");
        yield return ("{}"u8.ToArray(), null);
    }
}
