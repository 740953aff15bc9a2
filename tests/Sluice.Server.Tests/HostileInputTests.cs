using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Server.Tests;

/// <summary>
/// Input that tries to change what a request addresses or to slip bad text past the parser: encoded dots and slashes
/// in paths, invalid UTF-8 and lone surrogates inside JSON, offsets past a partition's end, and retention settings.
/// Each is a clear 4xx problem, and changes nothing.
/// </summary>
public sealed class HostileInputTests(SharedServer shared, ITestOutputHelper output) : IClassFixture<SharedServer>, IDisposable
{
    private readonly HttpClient _client = shared.Client;

    public void Dispose() => shared.Server.WriteOutputTo(output, lastLines: 40);

    public static TheoryData<string, string> EscapingPaths => new()
    {
        // name, the request line's method and target ({t} = the test topic; subscription "s" exists)
        { "encoded dot-dot as a subscription name", "DELETE /v1/topics/{t}/subscriptions/%2E%2E" },
        { "encoded dot-dot, lower case", "DELETE /v1/topics/{t}/subscriptions/%2e%2e" },
        { "encoded dot-dot then more", "DELETE /v1/topics/{t}/subscriptions/%2E%2E/%2E%2E/%2E%2E" },
        { "half-encoded dot-dot", "DELETE /v1/topics/{t}/subscriptions/.%2E" },
        { "literal dot-dot segment", "DELETE /v1/topics/{t}/subscriptions/.." },
        { "literal dot segment", "DELETE /v1/topics/{t}/subscriptions/./s" },
        { "encoded slash in a name", "DELETE /v1/topics/{t}/subscriptions/s%2F..%2F..%2Fx" },
        { "encoded backslash in a name", "DELETE /v1/topics/{t}/subscriptions/s%5C.." },
        { "encoded dot inside a name", "GET /v1/topics/{t}/subscriptions/s%2Ex" },
        { "encoded slash on a webhook route", "DELETE /v1/webhooks/a%2F..%2F..%2Fv1%2Ftopics" },
    };

    [Theory]
    [MemberData(nameof(EscapingPaths))]
    public async Task EncodedDotsAndSlashesOrDotSegments_AreRefusedWith400InvalidName_AndAddressNothing(string name, string requestLine)
    {
        var topic = SluiceApi.NewTopic("escape");
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _client.ProduceAsync(topic, "kept", partition: 0);
        var before = await _client.EndOffsetsAsync(topic);

        var (status, contentType, body) = await SendRawAsync(requestLine.Replace("{t}", topic, StringComparison.Ordinal));
        output.WriteLine($"{name}: {status} {body}");

        Assert.Equal(400, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal("urn:sluice:problem:invalid-name", JsonDocument.Parse(body).RootElement.GetProperty("type").GetString());

        // The topic, its data and its subscription are all still there.
        Assert.Equal(before, await _client.EndOffsetsAsync(topic));
        using var subscription = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/s");
        Assert.Equal(HttpStatusCode.OK, subscription.StatusCode);
    }

    public static TheoryData<string, string, string, byte[], string> BadText => new()
    {
        // name, method, path ({t} = the test topic; subscription "s" exists), body bytes, content type
        { "invalid UTF-8 in a subscription position", "PUT", "/v1/topics/{t}/subscriptions/s2", [.. "{\"position\":\""u8, 0xFF, .. "\"}"u8], "application/json" },
        { "invalid UTF-8 in a seek position", "POST", "/v1/topics/{t}/subscriptions/s/seek", [.. "{\"position\":\""u8, 0xFF, .. "\"}"u8], "application/json" },
        { "lone surrogate escape in a seek position", "POST", "/v1/topics/{t}/subscriptions/s/seek", "{\"position\":\"\\udc00\"}"u8.ToArray(), "application/json" },
        { "lone surrogate escape in a position", "PUT", "/v1/topics/{t}/subscriptions/s2", "{\"position\":\"\\ud800x\"}"u8.ToArray(), "application/json" },
        { "invalid UTF-8 in a batch value", "POST", "/v1/topics/{t}/batch", [.. "{\"messages\":[{\"value\":\"a"u8, 0xC3, 0x28, .. "\"}]}"u8], "application/json" },
        { "overlong UTF-8 in a batch value", "POST", "/v1/topics/{t}/batch", [.. "{\"messages\":[{\"value\":\""u8, 0xC0, 0xAF, .. "\"}]}"u8], "application/json" },
        { "lone surrogate escape in a batch value", "POST", "/v1/topics/{t}/batch", "{\"messages\":[{\"value\":\"\\ud800\"}]}"u8.ToArray(), "application/json" },
        { "invalid UTF-8 in an object batch value", "POST", "/v1/topics/{t}/batch", [.. "{\"messages\":[{\"value\":{\"a\":\""u8, 0xFF, .. "\"}}]}"u8], "application/json" },
        { "invalid UTF-8 in an NDJSON line", "POST", "/v1/topics/{t}/batch", [.. "{\"value\":\"ok\"}\n{\"value\":\""u8, 0xFE, .. "\"}\n"u8], "application/x-ndjson" },
        { "invalid UTF-8 in a batch key", "POST", "/v1/topics/{t}/batch", [.. "{\"messages\":[{\"key\":\""u8, 0xFF, .. "\",\"value\":\"v\"}]}"u8], "application/json" },
        { "invalid UTF-8 in an ack id", "POST", "/v1/topics/{t}/subscriptions/s/acks", [.. "{\"ackIds\":[\""u8, 0xFF, .. "\"]}"u8], "application/json" },
        { "invalid UTF-8 in topic settings", "PUT", "/v1/topics/{t}", [.. "{\"partitions\":4,\""u8, 0xFF, .. "\":1}"u8], "application/json" },
        { "invalid UTF-8 in a webhook", "POST", "/v1/webhooks", [.. "{\"topic\":\"{t}\",\"url\":\"http://127.0.0.1:9/"u8, 0xFF, .. "\"}"u8], "application/json" },
    };

    [Theory]
    [MemberData(nameof(BadText))]
    public async Task JsonThatIsNotValidText_Gets400MalformedJson_AndWritesNothing(string name, string method, string path, byte[] body, string contentType)
    {
        var topic = SluiceApi.NewTopic("text");
        using (var put = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 4 })))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        await _client.ProduceAsync(topic, "existing", partition: 0);
        var before = await _client.EndOffsetsAsync(topic);

        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{t}", topic, StringComparison.Ordinal));
        request.Content = new ByteArrayContent(Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(body).Replace("{t}", topic, StringComparison.Ordinal)));
        request.Content.Headers.ContentType = new(contentType);
        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{name}: {(int)response.StatusCode} {text}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("urn:sluice:problem:malformed-json", JsonDocument.Parse(text).RootElement.GetProperty("type").GetString());
        Assert.Equal(before, await _client.EndOffsetsAsync(topic));
        using var unchanged = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/s2");
        Assert.Equal(HttpStatusCode.NotFound, unchanged.StatusCode);
    }

    [Theory]
    [InlineData("seek past the end", "POST", "seek", """{"position":{"offset":5,"partition":0}}""")]
    [InlineData("seek far past the end", "POST", "seek", """{"position":{"offset":9000000000,"partition":1}}""")]
    [InlineData("seek past the end of every partition", "POST", "seek", """{"position":{"offset":3}}""")]
    [InlineData("create past the end", "PUT", "", """{"position":{"offset":5,"partition":0}}""")]
    public async Task OffsetPastAPartitionsEnd_Gets400OffsetOutOfRange_SayingTheRange_AndMovesNothing(string name, string method, string route, string body)
    {
        var topic = SluiceApi.NewTopic("range");
        using (var put = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 2 })))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await _client.ProduceAsync(topic, "a", partition: 0);
        await _client.ProduceAsync(topic, "b", partition: 0);
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        var subscription = route == "seek" ? "s" : "created";
        var path = $"/v1/topics/{topic}/subscriptions/{subscription}" + (route.Length > 0 ? "/" + route : "");

        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = SluiceApi.Raw(body) };
        using var response = await _client.SendAsync(request);
        var problem = await SluiceApi.ReadJsonAsync(response);
        output.WriteLine($"{name}: {(int)response.StatusCode} {problem}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("urn:sluice:problem:offset-out-of-range", problem.GetProperty("type").GetString());
        Assert.Contains("0..", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Nothing moved: the existing subscription still delivers from the start, the refused one was not created.
        Assert.Equal(["a", "b"], (await _client.PullAsync(topic, "s", max: 10, waitMs: 5000)).Select(m => m.Value()));
        using var created = await _client.GetAsync($"/v1/topics/{topic}/subscriptions/created");
        Assert.Equal(HttpStatusCode.NotFound, created.StatusCode);
    }

    [Fact]
    public async Task SeekToTheEnd_IsAccepted_AsLatest()
    {
        var topic = SluiceApi.NewTopic("end");
        await _client.ProduceAsync(topic, "a", partition: 0);
        await _client.PutSubscriptionAsync(topic, "s", new { position = "earliest" });
        using var seek = await _client.PostAsync($"/v1/topics/{topic}/subscriptions/s/seek", SluiceApi.Raw("""{"position":{"offset":1,"partition":0}}"""));
        Assert.Equal(HttpStatusCode.NoContent, seek.StatusCode);
        Assert.Empty(await _client.PullAsync(topic, "s"));
    }

    [Fact]
    public async Task RetentionZero_KeepsForever_LikeTheServerSetting_AndNegativeIsRefused()
    {
        var topic = SluiceApi.NewTopic("forever");
        using (var created = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { partitions = 1 })))
        {
            // Omitted: the server's default (7 days).
            Assert.Equal(604_800_000, (await SluiceApi.ReadJsonAsync(created)).GetProperty("retentionMs").GetInt64());
        }

        using (var forever = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { retentionMs = 0, retentionBytes = 0 })))
        {
            var body = await SluiceApi.ReadJsonAsync(forever);
            Assert.Equal(HttpStatusCode.OK, forever.StatusCode);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("retentionMs").ValueKind);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("retentionBytes").ValueKind);
        }

        Assert.Equal(JsonValueKind.Null, (await _client.GetTopicAsync(topic)).GetProperty("retentionMs").ValueKind);

        using var negative = await _client.PutAsync($"/v1/topics/{topic}", SluiceApi.Json(new { retentionMs = -1 }));
        var problem = await SluiceApi.ReadJsonAsync(negative);
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.Contains("0 keeps forever", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private async Task<(int Status, string? ContentType, string Body)> SendRawAsync(string requestLine)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, shared.Server.Port);
        var stream = tcp.GetStream();
        // HTTP/1.0: the answer is not chunked, and ends with the connection.
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{requestLine} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var response = await reader.ReadToEndAsync(cts.Token);
        var head = response[..response.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
        var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var contentType = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?[13..].Trim().Split(';')[0];
        return (status, contentType, response[(head.Length + 4)..]);
    }
}
