using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Sluice.Server.Tests.Webhooks;

/// <summary>One call as the receiver saw it.</summary>
public sealed record ReceivedCall(int Index, DateTimeOffset ArrivedAt, byte[] Body, string? ContentType, Dictionary<string, string> Headers)
{
    public string Text => System.Text.Encoding.UTF8.GetString(Body);

    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"no header {name}; got {string.Join(", ", Headers.Keys)}");
}

/// <summary>What the receiver answers.</summary>
public sealed record ReceiverAnswer(int Status, string? Body = null, string? ContentType = null, Dictionary<string, string>? Headers = null)
{
    public static readonly ReceiverAnswer Ok = new(200);
}

/// <summary>
/// A real HTTP receiver: Kestrel on a loopback port in the test process. Records every call with its arrival time and
/// answers what <see cref="Respond"/> says (200 by default).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedCall> _calls = new();
    private int _count;

    private WebhookReceiver(WebApplication app) => _app = app;

    public Func<ReceivedCall, Task<ReceiverAnswer>> Respond { get; set; } = _ => Task.FromResult(ReceiverAnswer.Ok);

    public string Url { get; private set; } = "";

    public IReadOnlyList<ReceivedCall> Calls => [.. _calls];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var app = Infrastructure.LoopbackApp.Create();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", receiver.HandleAsync);
        receiver.Url = await Infrastructure.LoopbackApp.StartAsync(app) + "/hook";
        return receiver;
    }

    /// <summary>Waits (polling) until the calls satisfy <paramref name="condition"/>; fails with what arrived after the timeout.</summary>
    public async Task<IReadOnlyList<ReceivedCall>> WaitForAsync(Func<IReadOnlyList<ReceivedCall>, bool> condition, int timeoutSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var calls = Calls;
            if (condition(calls))
            {
                return calls;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the receiver's calls did not reach the expected state within {timeoutSeconds} s; got {calls.Count}: " +
                    string.Join(" | ", calls.Take(50).Select(c => $"#{c.Index} {c.Text}")));
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var call = new ReceivedCall(Interlocked.Increment(ref _count), DateTimeOffset.UtcNow, body.ToArray(), context.Request.ContentType, headers);
        _calls.Enqueue(call);
        var answer = await Respond(call);
        context.Response.StatusCode = answer.Status;
        foreach (var (name, value) in answer.Headers ?? [])
        {
            context.Response.Headers[name] = value;
        }

        if (answer.Body is not null)
        {
            context.Response.ContentType = answer.ContentType ?? "text/plain";
            await context.Response.WriteAsync(answer.Body);
        }
    }
}
