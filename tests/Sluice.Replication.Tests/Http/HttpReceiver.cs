using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Replication.Tests.Infrastructure;

namespace Sluice.Replication.Tests.Http;

/// <summary>One request as the receiver saw it.</summary>
public sealed record ReceivedRequest(string Path, byte[] Body, string? ContentType, Dictionary<string, string> Headers);

/// <summary>
/// A real HTTP receiver for the http sink: Kestrel on a loopback port, every request recorded, records parsed from JSON
/// arrays, NDJSON or single-message requests. It can be stopped (connections refused) and started again on the same port.
/// Verifies every request's Standard Webhooks signature as a receiver would (401, not recorded, when it does not match the
/// exact body), and answers 422 to a request whose body holds the poison value of its path, else 200.
/// </summary>
public sealed class HttpReceiver : ISinkTarget
{
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private readonly ConcurrentDictionary<string, string> _poison = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private int _port;
    private int _badSignatures;

    public HttpReceiver(string format = "json", string? signingSecret = null)
    {
        Format = format;
        Secrets = new Dictionary<string, string>
        {
            ["wh"] = signingSecret ?? "whsec_" + Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray()),
            ["token"] = "tok-" + Guid.NewGuid().ToString("N"),
        };
    }

    public string Format { get; }

    public string BaseUrl => $"http://127.0.0.1:{_port}";

    public IReadOnlyDictionary<string, string> Secrets { get; }

    public bool Deduplicates => false;

    public IReadOnlyList<ReceivedRequest> Requests => [.. _requests];

    /// <summary>Requests refused because their <c>webhook-signature</c> did not match their body.</summary>
    public int BadSignatures => Volatile.Read(ref _badSignatures);

    public static async Task<HttpReceiver> StartNewAsync(string format = "json")
    {
        var receiver = new HttpReceiver(format);
        await receiver.StartAsync();
        return receiver;
    }

    public JsonObject Sink() => new()
    {
        ["type"] = "http",
        ["url"] = BaseUrl + "/in/{tenant}/{namespace}/{topic}",
        ["format"] = Format,
        ["signingSecret"] = "${secret:wh}",
        ["headers"] = new JsonObject { ["Authorization"] = "Bearer ${secret:token}" },
    };

    public Task PrepareAsync(string topic, string? poison = null)
    {
        if (poison is not null)
        {
            _poison["/in/" + topic] = poison;
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<TargetRecord>> ReadAsync(string topic)
        => Task.FromResult<IReadOnlyList<TargetRecord>>([.. Requests.Where(r => r.Path == "/in/" + topic).SelectMany(Parse)]);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, _port));
        var app = builder.Build();
        app.MapPost("/{**path}", HandleAsync);
        await app.StartAsync();
        _port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>The records of one request: a JSON array, NDJSON lines, or one message with its Sluice-* headers.</summary>
    public static IEnumerable<TargetRecord> Parse(ReceivedRequest request)
    {
        if (request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true && request.Headers.ContainsKey("Sluice-Record-Count"))
        {
            return JsonDocument.Parse(request.Body).RootElement.EnumerateArray().Select(FromJson).ToList();
        }

        if (request.ContentType?.StartsWith("application/x-ndjson", StringComparison.Ordinal) == true)
        {
            return System.Text.Encoding.UTF8.GetString(request.Body).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => FromJson(JsonDocument.Parse(l).RootElement)).ToList();
        }

        var headers = request.Headers.Where(h => h.Key.StartsWith("Sluice-Header-", StringComparison.OrdinalIgnoreCase)).ToDictionary(h => h.Key["Sluice-Header-".Length..], h => h.Value);
        return
        [
            new TargetRecord(
                request.Headers["Sluice-Topic"],
                int.Parse(request.Headers["Sluice-Partition"], System.Globalization.CultureInfo.InvariantCulture),
                long.Parse(request.Headers["Sluice-Offset"], System.Globalization.CultureInfo.InvariantCulture),
                request.Headers.GetValueOrDefault("Sluice-Key"),
                System.Text.Encoding.UTF8.GetString(request.Body),
                headers),
        ];
    }

    private static TargetRecord FromJson(JsonElement e) => new(
        e.GetProperty("topic").GetString()!,
        e.GetProperty("partition").GetInt32(),
        e.GetProperty("offset").GetInt64(),
        e.TryGetProperty("key", out var k) ? k.GetString() : null,
        e.TryGetProperty("value", out var v) ? v.GetString() : null,
        e.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString()!));

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var request = new ReceivedRequest(
            context.Request.Path.Value ?? "",
            body.ToArray(),
            context.Request.ContentType,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        if (!SignatureMatches(request))
        {
            Interlocked.Increment(ref _badSignatures);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        if (_poison.TryGetValue(request.Path, out var poison) && System.Text.Encoding.UTF8.GetString(request.Body).Contains(poison, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
            return;
        }

        _requests.Enqueue(request);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    // Standard Webhooks: v1 = base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), key = the secret's bytes
    // after "whsec_"; the header may list several signatures, separated by spaces.
    private bool SignatureMatches(ReceivedRequest request)
    {
        if (!request.Headers.TryGetValue("webhook-id", out var id) || !request.Headers.TryGetValue("webhook-timestamp", out var timestamp)
            || !request.Headers.TryGetValue("webhook-signature", out var signatures))
        {
            return false;
        }

        var key = Convert.FromBase64String(Secrets["wh"]["whsec_".Length..]);
        var signed = System.Text.Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(request.Body).ToArray();
        var expected = "v1," + Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(key, signed));
        return signatures.Split(' ').Contains(expected, StringComparer.Ordinal);
    }
}
