using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests.Diagnostics;

/// <summary>A span as an OTLP/HTTP receiver got it (ids in lower-case hex).</summary>
public sealed record ReceivedSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyList<(string TraceId, string SpanId)> Links, IReadOnlyDictionary<string, string> Attributes)
{
    public override string ToString() => $"{Name} kind {Kind} trace {TraceId} span {SpanId} parent {ParentSpanId} links [{string.Join(", ", Links)}]";
}

/// <summary>
/// A tiny OTLP/HTTP receiver: Kestrel on loopback taking <c>POST /v1/traces</c> and <c>/v1/metrics</c> (protobuf), as a
/// collector would. Spans are decoded from the wire format by field number (trace.proto: ResourceSpans 1 → ScopeSpans 2
/// → Span 2; Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, attributes 9, links 13).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<byte[]> _metrics = new();

    private OtlpReceiver(WebApplication app) => _app = app;

    public string Endpoint { get; private set; } = "";

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public IReadOnlyList<byte[]> MetricExports => [.. _metrics];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var app = LoopbackApp.Create();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async (HttpContext context) =>
        {
            foreach (var span in ParseSpans(await BodyAsync(context)))
            {
                receiver._spans.Enqueue(span);
            }

            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/metrics", async (HttpContext context) =>
        {
            receiver._metrics.Enqueue(await BodyAsync(context));
            return Results.Bytes([], "application/x-protobuf");
        });
        receiver.Endpoint = await LoopbackApp.StartAsync(app);
        return receiver;
    }

    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(Func<IReadOnlyList<ReceivedSpan>, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition(Spans))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the receiver did not get the expected spans within 60 s; got:\n{string.Join("\n", Spans)}");
            }

            await Task.Delay(200);
        }

        return Spans;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task<byte[]> BodyAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        return body.ToArray();
    }

    private static List<ReceivedSpan> ParseSpans(byte[] request)
    {
        var spans = new List<ReceivedSpan>();
        foreach (var resourceSpans in Fields(request, 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                foreach (var span in Fields(scopeSpans, 2))
                {
                    spans.Add(ParseSpan(span));
                }
            }
        }

        return spans;
    }

    private static ReceivedSpan ParseSpan(byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var kind = 0;
        var links = new List<(string, string)>();
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var input = new CodedInputStream(span);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: traceId = Hex(input.ReadBytes()); break;
                case 2: spanId = Hex(input.ReadBytes()); break;
                case 4: parent = Hex(input.ReadBytes()); break;
                case 5: name = input.ReadString(); break;
                case 6: kind = input.ReadEnum(); break;
                case 9:
                    var (key, value) = ParseAttribute(input.ReadBytes().ToByteArray());
                    attributes[key] = value;
                    break;
                case 13:
                    var link = new CodedInputStream(input.ReadBytes().ToByteArray());
                    string linkTrace = "", linkSpan = "";
                    uint linkTag;
                    while ((linkTag = link.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(linkTag))
                        {
                            case 1: linkTrace = Hex(link.ReadBytes()); break;
                            case 2: linkSpan = Hex(link.ReadBytes()); break;
                            default: link.SkipLastField(); break;
                        }
                    }

                    links.Add((linkTrace, linkSpan));
                    break;
                default: input.SkipLastField(); break;
            }
        }

        return new ReceivedSpan(traceId, spanId, parent, name, kind, links, attributes);
    }

    // KeyValue { key = 1; AnyValue value = 2 { string_value = 1; int_value = 3 } }: strings and integers only.
    private static (string Key, string Value) ParseAttribute(byte[] keyValue)
    {
        var input = new CodedInputStream(keyValue);
        string key = "", value = "";
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 1)
            {
                key = input.ReadString();
            }
            else if (WireFormat.GetTagFieldNumber(tag) == 2)
            {
                var any = new CodedInputStream(input.ReadBytes().ToByteArray());
                uint anyTag;
                while ((anyTag = any.ReadTag()) != 0)
                {
                    switch (WireFormat.GetTagFieldNumber(anyTag))
                    {
                        case 1: value = any.ReadString(); break;
                        case 3: value = any.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture); break;
                        default: any.SkipLastField(); break;
                    }
                }
            }
            else
            {
                input.SkipLastField();
            }
        }

        return (key, value);
    }

    // Every length-delimited field of this number in the message.
    private static IEnumerable<byte[]> Fields(byte[] message, int number)
    {
        var input = new CodedInputStream(message);
        var found = new List<byte[]>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == number && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);
}
