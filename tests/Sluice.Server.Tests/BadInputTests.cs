using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

/// <summary>Every rejected request answers problem+json with its stable type, and writes nothing.</summary>
public sealed class BadInputTests(SharedServer shared, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private readonly HttpClient _client = shared.Client;

    public void Dispose() => shared.Server.WriteOutputTo(output, lastLines: 50);

    public static TheoryData<string, string, string, string?, string, int, string> Cases => new()
    {
        // name, method, path ({t} = the test topic), body (null: none), content type, status, problem kind
        { "invalid name", "POST", "/v1/topics/tests/ns/bad$name/messages", "x", "text/plain", 400, "invalid-name" },
        { "control character in name", "POST", "/v1/topics/tests/ns/bad%01name/messages", "x", "text/plain", 400, "invalid-name" },
        { "internal tenant", "POST", "/v1/topics/__sluice/ns/x/messages", "x", "text/plain", 400, "invalid-name" },
        { "internal tenant admin", "GET", "/v1/topics/__sluice/ns/x", null, "", 400, "invalid-name" },
        { "bad subscription name", "GET", "/v1/topics/{t}/subscriptions/a..b%20c/messages", null, "", 400, "invalid-name" },
        { "malformed batch json", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"value\":\"a\"},", "application/json", 400, "malformed-json" },
        { "unknown batch field", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"valu\":\"a\"}]}", "application/json", 400, "malformed-json" },
        { "malformed ndjson line", "POST", "/v1/topics/{t}/batch", "{\"value\":\"ok\"}\n{not json}\n", "application/x-ndjson", 400, "malformed-json" },
        { "invalid base64 after a valid record", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"value\":\"fine\"},{\"valueBase64\":\"***\"}]}", "application/json", 400, "invalid-base64" },
        { "record without value", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"value\":\"fine\"},{\"key\":\"k\"}]}", "application/json", 400, "invalid-parameter" },
        { "empty batch", "POST", "/v1/topics/{t}/batch", "{\"messages\":[]}", "application/json", 400, "invalid-parameter" },
        { "message over the maximum", "POST", "/v1/topics/{t}/messages", new string('x', SharedServer.MaxMessageBytes + 1), "text/plain", 413, "message-too-large" },
        { "batch record over the maximum", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"value\":\"fine\"},{\"value\":\"" + new string('x', SharedServer.MaxMessageBytes + 1) + "\"}]}", "application/json", 413, "message-too-large" },
        { "partition that does not exist", "POST", "/v1/topics/{t}/messages?partition=9", "x", "text/plain", 404, "partition-not-found" },
        { "partition not a number", "POST", "/v1/topics/{t}/messages?partition=two", "x", "text/plain", 400, "invalid-parameter" },
        { "max zero", "GET", "/v1/topics/{t}/subscriptions/s/messages?max=0", null, "", 400, "invalid-parameter" },
        { "max over the cap", "GET", "/v1/topics/{t}/subscriptions/s/messages?max=1001", null, "", 400, "invalid-parameter" },
        { "wait over the cap", "GET", "/v1/topics/{t}/subscriptions/s/messages?waitMs=60001", null, "", 400, "invalid-parameter" },
        { "malformed topic settings", "PUT", "/v1/topics/{t}", "{\"partitions\":", "application/json", 400, "malformed-json" },
        { "misspelled topic setting", "PUT", "/v1/topics/{t}", "{\"partitons\":8}", "application/json", 400, "malformed-json" },
        { "partition count shrinks", "PUT", "/v1/topics/{t}", "{\"partitions\":2}", "application/json", 400, "invalid-parameter" },
        { "unknown subscription type", "PUT", "/v1/topics/{t}/subscriptions/s2", "{\"type\":\"broadcast\"}", "application/json", 400, "invalid-parameter" },
        { "bad position", "PUT", "/v1/topics/{t}/subscriptions/s2", "{\"position\":\"middle\"}", "application/json", 400, "invalid-parameter" },
        { "ack deadline too short", "PUT", "/v1/topics/{t}/subscriptions/s2", "{\"ackDeadlineMs\":1}", "application/json", 400, "invalid-parameter" },
        { "ack without ids", "POST", "/v1/topics/{t}/subscriptions/s/acks", "{\"ackIds\":[]}", "application/json", 400, "invalid-parameter" },
        { "malformed ack", "POST", "/v1/topics/{t}/subscriptions/s/acks", "[1,2", "application/json", 400, "malformed-json" },
        { "negative nack delay", "POST", "/v1/topics/{t}/subscriptions/s/nacks", "{\"ackIds\":[\"a\"],\"delayMs\":-5}", "application/json", 400, "invalid-parameter" },
        { "unknown subscription", "GET", "/v1/topics/{t}/subscriptions/nope", null, "", 404, "subscription-not-found" },
        { "unknown topic", "GET", "/v1/topics/tests/ns/never-made", null, "", 404, "topic-not-found" },
        { "wrong method on a known route", "PATCH", "/v1/topics/{t}", "{}", "application/json", 405, "method-not-allowed" },
        { "wrong method on messages", "DELETE", "/v1/topics/{t}/messages", null, "", 405, "method-not-allowed" },
        { "unknown route", "GET", "/v2/whatever", null, "", 404, "not-found" },
        { "invalid UTF-8 (percent-encoded) in a name", "POST", "/v1/topics/tests/ns/bad%FF%FEname/messages", "x", "text/plain", 400, "invalid-name" },
        { "wrong content type on a batch", "POST", "/v1/topics/{t}/batch", "a,b\n1,2", "text/csv", 415, "unsupported-media-type" },
        { "wrong content type on topic settings", "PUT", "/v1/topics/{t}", "{}", "text/plain", 415, "unsupported-media-type" },
        { "deeply nested JSON in topic settings", "PUT", "/v1/topics/{t}", new string('[', 5000) + new string(']', 5000), "application/json", 400, "malformed-json" },
        { "deeply nested JSON in a batch", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"value\":\"a\",\"headers\":" + string.Concat(Enumerable.Repeat("{\"a\":", 3000)) + "1" + new string('}', 3000) + "}]}", "application/json", 400, "malformed-json" },
        { "invalid base64 value", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"valueBase64\":\"not base64!\"}]}", "application/json", 400, "invalid-base64" },
        { "truncated JSON body", "PUT", "/v1/topics/{t}/subscriptions/s2", "{\"type\":\"sha", "application/json", 400, "malformed-json" },
    };

    public static TheoryData<string, byte[], int> RawCases => new()
    {
        // name, the bytes sent (no half-close), the status Kestrel or the server answers
        { "invalid UTF-8 in the path", [.. "POST /v1/topics/tests/ns/b"u8, 0xFF, .. "ad/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx"u8], 400 },
        { "invalid UTF-8 in a header", [.. "POST /v1/topics/{t}/messages HTTP/1.1\r\nHost: localhost\r\nSluice-Header-A: "u8, 0xFF, 0xFE, .. "\r\nContent-Length: 1\r\n\r\nx"u8], 400 },
        { "a 100 KiB header", [.. "POST /v1/topics/{t}/messages HTTP/1.1\r\nHost: localhost\r\nX-Big: "u8, .. Enumerable.Repeat((byte)'a', 100 * 1024), .. "\r\nContent-Length: 1\r\n\r\nx"u8], 431 },
        { "200 headers", [.. "POST /v1/topics/{t}/messages HTTP/1.1\r\nHost: localhost\r\n"u8, .. Enumerable.Range(0, 200).SelectMany(i => Encoding.ASCII.GetBytes($"X-H{i}: v\r\n")), .. "Content-Length: 1\r\n\r\nx"u8], 431 },
        { "a 20 KiB request line", [.. "POST /v1/topics/{t}/messages?key="u8, .. Enumerable.Repeat((byte)'k', 20 * 1024), .. " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx"u8], 414 },

        // The body stops short of its Content-Length and the client waits: refused once the minimum data rate's grace (5 s) ends.
        { "a truncated body", [.. "POST /v1/topics/{t}/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789"u8], 400 },
    };

    [Theory]
    [MemberData(nameof(RawCases))]
    public async Task MalformedRawRequest_Gets4xx_WritesNothing_AndTheServerKeepsServing(string name, byte[] request, int status)
    {
        var topic = SluiceApi.NewTopic("raw");
        await _client.ProduceAsync(topic, "existing", partition: 0);
        var before = await _client.EndOffsetsAsync(topic);

        var bytes = Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(request).Replace("{t}", topic, StringComparison.Ordinal));
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, shared.Server.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(bytes);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var statusLine = await reader.ReadLineAsync(cts.Token) ?? "";
        output.WriteLine($"{name}: {statusLine}");

        Assert.StartsWith($"HTTP/1.1 {status} ", statusLine, StringComparison.Ordinal);
        Assert.Equal(before, await _client.EndOffsetsAsync(topic));
        using var health = await _client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task BodyCutShortByTheClient_WritesNothing_AndTheServerKeepsServing()
    {
        var topic = SluiceApi.NewTopic("cut");
        await _client.ProduceAsync(topic, "existing", partition: 0);
        var before = await _client.EndOffsetsAsync(topic);

        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, shared.Server.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/topics/{topic}/batch HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"messages\":[{{\"value\":\"a\"}}"));
            tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string answer;
            try
            {
                answer = await reader.ReadToEndAsync(cts.Token);
            }
            catch (IOException)
            {
                answer = ""; // the server reset the connection: also a refusal
            }

            output.WriteLine(answer.Length == 0 ? "(connection closed without an answer)" : answer);
            Assert.DoesNotContain("HTTP/1.1 2", answer, StringComparison.Ordinal);
        }

        Assert.Equal(before, await _client.EndOffsetsAsync(topic));
        using var health = await _client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsItsStatusAndProblemType_AndChangesNothing(string name, string method, string path, string? body, string contentType, int status, string kind)
    {
        var topic = SluiceApi.NewTopic("bad");
        using (var put = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 4 })))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _client.ProduceAsync(topic, "existing", partition: 0);
        var before = await _client.EndOffsetsAsync(topic);
        var topicsBefore = await ListTopicsAsync();

        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{t}", topic, StringComparison.Ordinal));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            request.Content.Headers.ContentType = new(contentType);
        }

        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{name}: {(int)response.StatusCode} {text[..Math.Min(text.Length, 400)]}");

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("urn:sluice:problem:" + kind, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        Assert.DoesNotContain(text, c => c < ' ');
        if (status == 405)
        {
            Assert.NotEmpty(response.Content.Headers.Allow);
        }

        // Nothing was written.
        Assert.Equal(before, await _client.EndOffsetsAsync(topic));
        Assert.Equal(topicsBefore.Where(t => t != topic), (await ListTopicsAsync()).Where(t => t != topic));
    }

    [Fact]
    public async Task ExclusiveSubscription_SecondConsumer_Gets409()
    {
        var topic = SluiceApi.NewTopic();
        await _client.PutSubscriptionAsync(topic, "only", new { type = "exclusive", position = "earliest" });
        await _client.PullAsync(topic, "only", consumer: "first");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/topics/{topic}/subscriptions/only/messages");
        request.Headers.Add("Sluice-Consumer-Id", "second");
        using var response = await _client.SendAsync(request);
        var problem = await SluiceApi.ReadJsonAsync(response);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("urn:sluice:problem:subscription-busy", problem.GetProperty("type").GetString());

        // The first consumer keeps it.
        await _client.PullAsync(topic, "only", consumer: "first");
    }

    [Fact]
    public async Task ProblemDetail_NeverEchoesControlCharacters()
    {
        using var response = await _client.GetAsync("/v1/topics/tests/ns/x%0Ay%1B/subscriptions/s/messages");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("\n", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString());
        Assert.DoesNotContain("\u001b", text);
    }

    private async Task<List<string>> ListTopicsAsync()
    {
        var list = await SluiceApi.ReadJsonAsync(await _client.GetAsync("/v1/topics"));
        return [.. list.GetProperty("topics").EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal)];
    }
}
