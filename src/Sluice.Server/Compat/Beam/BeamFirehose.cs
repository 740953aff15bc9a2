using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Sluice.Core.Log;
using Sluice.Core.Topics;
using Sluice.Server.Hosting;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// <c>POST /v2/firehose/{persistent}/{tenant}/{namespace}/{topic}</c> and <c>POST /v1/firehose</c> (topic in the
/// <c>TopicFn</c> header, which also overrides the v2 path): the body is the message, answered 200 with an empty body once
/// durable (<c>?mode=async</c>: at once).
/// <code>
///   token (401) ──► PulsarUrl in beam:clusters (401) ──► topic (422) ──► produce permission (403)
///     ──► body (gzip decoded; 413 over maxMessageBytes) ──► ?includeHeaders wraps {"headers","body"} ──► append ──► 200
/// </code>
/// </summary>
internal static class BeamFirehose
{
    public static async Task ReceiveAsync(HttpContext context, BeamServices beam, bool fromRoute)
    {
        var caller = await beam.Access.AuthenticateAsync(context);
        beam.Access.CheckCluster(context);

        var topicFn = context.Request.Headers["TopicFn"].ToString();
        TopicName topic;
        if (topicFn.Length > 0)
        {
            topic = BeamNames.Parse(topicFn).Topic;
        }
        else if (fromRoute)
        {
            topic = BeamNames.FromRoute(context).Topic;
        }
        else
        {
            throw new CompatException(StatusCodes.Status422UnprocessableEntity, "missing topic parts");
        }

        beam.Access.Require(caller, topic, Permission.Produce);
        var body = await ReadBodyAsync(context, beam.Options.MaxMessageBytes);
        var query = context.Request.Query;
        List<KeyValuePair<string, string>>? headers = null;
        if (query.TryGetValue("includeHeaders", out var include) && include[0] != "false")
        {
            body = WrapWithHeaders(context.Request, body);
            headers = [new("content-type", "application/json")];
        }
        else if (context.Request.ContentType is { Length: > 0 } contentType)
        {
            headers = [new("content-type", contentType)];
        }

        var record = new RecordToAppend(null, body, headers);
        if (query["mode"] == "async")
        {
            await beam.Producer.AppendInBackgroundAsync(topic, record, context.RequestAborted);
        }
        else
        {
            await beam.Producer.AppendAsync(topic, record, context.RequestAborted);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>The body, gunzipped when <c>Content-Encoding: gzip</c>; either way at most <paramref name="limit"/> bytes.</summary>
    private static async ValueTask<byte[]> ReadBodyAsync(HttpContext context, int limit)
    {
        var body = await HttpRequestReader.ReadBodyAsync(context, limit, "the message");
        if (context.Request.Headers.ContentEncoding != "gzip")
        {
            return body;
        }

        try
        {
            await using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await gzip.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (output.Length + read > limit)
                {
                    // Checked while inflating: a small bomb never grows past the limit in memory.
                    throw new CompatException(StatusCodes.Status413PayloadTooLarge, $"the message is larger than {limit} bytes once decompressed");
                }

                output.Write(chunk, 0, read);
            }

            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            throw new CompatException(StatusCodes.Status400BadRequest, "gzip: the body is not valid gzip data (Content-Encoding: gzip)");
        }
    }

    /// <summary>
    /// Beam's <c>?includeHeaders</c> message: <c>{"headers": {"Name": ["value", ...]}, "body": "..."}</c>, names in Go's
    /// canonical form. <c>Authorization</c> and <c>Cookie</c> are left out: a credential does not belong in a message.
    /// </summary>
    private static byte[] WrapWithHeaders(HttpRequest request, byte[] body)
    {
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteStartObject("headers");
            foreach (var (name, values) in request.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
            {
                if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                json.WriteStartArray(GoHeaders.Canonical(name));
                foreach (var value in values)
                {
                    json.WriteStringValue(value);
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();

            // Go's string(bytes): invalid UTF-8 becomes U+FFFD.
            json.WriteString("body", Encoding.UTF8.GetString(body));
            json.WriteEndObject();
        }

        return output.ToArray();
    }
}
