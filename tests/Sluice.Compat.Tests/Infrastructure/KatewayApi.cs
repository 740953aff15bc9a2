using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using Sluice.Server.Tests.Infrastructure;

namespace Sluice.Compat.Tests.Infrastructure;

/// <summary>One answer of kateway's sub route: the message(s) and the position of the last one.</summary>
public sealed record KatewayAnswer(HttpStatusCode Status, List<(int Partition, long Offset, string Value)> Messages, string? Key)
{
    public (int Partition, long Offset) Last => (Messages[^1].Partition, Messages[^1].Offset);
}

/// <summary>kateway's client side (its Go and Java demo clients do the same), under the main port's <c>/kateway</c> prefix.</summary>
public static class KatewayApi
{
    public const string Prefix = "/kateway";

    public static HttpRequestMessage Request(HttpMethod method, string path, string app, string? key = "k", string keyHeader = "Pubkey")
    {
        var request = new HttpRequestMessage(method, Prefix + path);
        request.Headers.Add("Appid", app);
        if (key is not null)
        {
            request.Headers.Add(keyHeader, key);
        }

        return request;
    }

    /// <summary><c>POST /v1/msgs/{topic}/{ver}</c>; asserts 201 and returns X-Partition / X-Offset.</summary>
    public static async Task<(int Partition, long Offset)> PubAsync(this HttpClient client, string app, string topic, string ver, string body, string? key = null, string? tag = null, string? secret = "k")
    {
        using var request = Request(HttpMethod.Post, $"/v1/msgs/{topic}/{ver}" + (key is null ? "" : "?key=" + Uri.EscapeDataString(key)), app, secret);
        request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        if (tag is not null)
        {
            request.Headers.Add("X-Tag", tag);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"pub answered {(int)response.StatusCode}: {text}");
        Assert.Equal("{\"ok\":1}", text);
        return (int.Parse(response.Headers.GetValues("X-Partition").Single(), CultureInfo.InvariantCulture), long.Parse(response.Headers.GetValues("X-Offset").Single(), CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// <c>GET /v1/msgs/{his}/{topic}/{ver}?group=</c>: one answer (batch 1: body and headers; batch N: kateway's binary
    /// message set). With <paramref name="ack"/>, <c>ack=1</c> and <paramref name="acked"/> as X-Partition/X-Offset.
    /// </summary>
    public static async Task<KatewayAnswer> SubAsync(this HttpClient client, string app, string his, string topic, string ver, string group,
        int batch = 1, bool ack = false, (int Partition, long Offset)? acked = null, string? tag = null, string? queue = null, string? reset = null, string? secret = "k")
    {
        var query = $"?group={group}" + (batch == 1 ? "" : $"&batch={batch}") + (ack ? "&ack=1" : "") + (queue is null ? "" : "&q=" + queue) + (reset is null ? "" : "&reset=" + reset);
        using var request = Request(HttpMethod.Get, $"/v1/msgs/{his}/{topic}/{ver}{query}", app, secret, "Subkey");
        if (ack)
        {
            var (p, o) = acked ?? (-1, -1);
            request.Headers.Add("X-Partition", p.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("X-Offset", o.ToString(CultureInfo.InvariantCulture));
        }

        if (tag is not null)
        {
            request.Headers.Add("X-Tag", tag);
        }

        using var response = await client.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"sub answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
            return new KatewayAnswer(response.StatusCode, [], null);
        }

        if (batch == 1)
        {
            var partition = int.Parse(response.Headers.GetValues("X-Partition").Single(), CultureInfo.InvariantCulture);
            var offset = long.Parse(response.Headers.GetValues("X-Offset").Single(), CultureInfo.InvariantCulture);
            return new KatewayAnswer(response.StatusCode, [(partition, offset, Encoding.UTF8.GetString(bytes))], response.Headers.GetValues("X-Key").Single());
        }

        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        return new KatewayAnswer(response.StatusCode, DecodeMessageSet(bytes), null);
    }

    /// <summary>kateway's binary batch: partition int32, offset int64, length int32, value; big-endian; back to back.</summary>
    public static List<(int Partition, long Offset, string Value)> DecodeMessageSet(byte[] set)
    {
        var messages = new List<(int, long, string)>();
        var span = set.AsSpan();
        while (span.Length > 0)
        {
            var partition = BinaryPrimitives.ReadInt32BigEndian(span);
            var offset = BinaryPrimitives.ReadInt64BigEndian(span[4..]);
            var length = BinaryPrimitives.ReadInt32BigEndian(span[12..]);
            messages.Add((partition, offset, Encoding.UTF8.GetString(span.Slice(16, length))));
            span = span[(16 + length)..];
        }

        return messages;
    }

    public static async Task<string> SendOkAsync(this HttpClient client, HttpRequestMessage request, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using (request)
        {
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode}: {text}");
            return text;
        }
    }

    public static StringContent Json(object body) => SluiceApi.Json(body);
}
