using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;
using Sluice.Core.Topics;
using Sluice.Server.Problems;

namespace Sluice.Server.Hosting;

/// <summary>Reads route values, query parameters and bodies, turning anything malformed into a problem.</summary>
internal static class HttpRequestReader
{
    /// <summary>The topic named by the route; internal topics (tenant <c>__*</c>) are not addressable by clients.</summary>
    public static TopicName Topic(HttpContext context)
    {
        var values = context.Request.RouteValues;
        var topic = new TopicName((string?)values["tenant"] ?? "", (string?)values["namespace"] ?? "", (string?)values["topic"] ?? "");
        if (topic.IsInternal)
        {
            ProblemException.Throw(ProblemKind.InvalidName, $"tenant names starting with '{TopicName.InternalTenantPrefix}' are reserved for Sluice's own state; choose another tenant");
        }

        return topic;
    }

    public static string Subscription(HttpContext context)
    {
        var name = (string?)context.Request.RouteValues["subscription"];
        TopicName.ThrowIfInvalidPart(name, "subscription");
        return name!;
    }

    public static int? QueryInt(HttpContext context, string name, int min, int max)
    {
        var raw = context.Request.Query[name];
        if (raw.Count == 0)
        {
            return null;
        }

        if (raw.Count > 1 || !int.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ProblemException(ProblemKind.InvalidParameter, $"query parameter '{name}' must be one integer between {min} and {max}; got '{ProblemWriter.Printable(raw.ToString(), 50)}'");
        }

        return value;
    }

    public static bool QueryBool(HttpContext context, string name)
    {
        var raw = context.Request.Query[name];
        if (raw.Count == 0)
        {
            return false;
        }

        var s = raw[0];
        if (raw.Count == 1 && (s is "" || string.Equals(s, "true", StringComparison.OrdinalIgnoreCase) || s == "1"))
        {
            return true;
        }

        if (raw.Count == 1 && (string.Equals(s, "false", StringComparison.OrdinalIgnoreCase) || s == "0"))
        {
            return false;
        }

        ProblemException.Throw(ProblemKind.InvalidParameter, $"query parameter '{name}' must be true or false; got '{ProblemWriter.Printable(raw.ToString(), 50)}'");
        return false;
    }

    /// <summary>
    /// Reads the whole body into one exact-size array (the log may keep it until it is durable), refusing more
    /// than <paramref name="limit"/> bytes with 413: by Content-Length before reading, and by Kestrel's limit while reading.
    /// </summary>
    public static ValueTask<byte[]> ReadBodyAsync(HttpContext context, long limit, string what)
        => ReadWholeBodyAsync(context, limit, what, static body => body.IsEmpty ? [] : body.ToArray());

    /// <summary>
    /// Reads the whole body like <see cref="ReadBodyAsync"/>, into an array rented from the shared pool: for a body that
    /// is parsed and copied out, never kept. The caller disposes the answer once nothing refers to its bytes.
    /// </summary>
    public static ValueTask<PooledBody> ReadPooledBodyAsync(HttpContext context, long limit, string what)
        => ReadWholeBodyAsync(context, limit, what, static body =>
        {
            if (body.IsEmpty)
            {
                return new PooledBody([], 0);
            }

            var length = checked((int)body.Length);
            var array = ArrayPool<byte>.Shared.Rent(length);
            body.CopyTo(array);
            return new PooledBody(array, length);
        });

    private static async ValueTask<T> ReadWholeBodyAsync<T>(HttpContext context, long limit, string what, Func<ReadOnlySequence<byte>, T> take)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        if (context.Request.ContentLength is { } length)
        {
            if (length > limit)
            {
                ThrowTooLarge(length, limit, what);
            }

            if (length == 0)
            {
                return take(ReadOnlySequence<byte>.Empty);
            }
        }

        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.End);
                ThrowTooLarge(buffer.Length, limit, what);
            }

            if (result.IsCompleted)
            {
                var taken = take(buffer);
                reader.AdvanceTo(buffer.End);
                return taken;
            }

            // Leave everything in the pipe until the body is complete: one copy at the end.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads a JSON body; null when the body is empty.</summary>
    public static async ValueTask<T?> ReadJsonAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, long limit)
        where T : class
    {
        var body = await ReadBodyAsync(context, limit, "the request body");
        if (body.Length == 0)
        {
            return null;
        }

        return Deserialize(body, typeInfo, "the request body");
    }

    public static T? Deserialize<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> typeInfo, string what)
    {
        if (JsonText.Invalid(json) is { } invalid)
        {
            ProblemException.Throw(ProblemKind.MalformedJson, $"{what} is not valid JSON text: {invalid}");
        }

        try
        {
            return JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException ex)
        {
            ProblemException.Throw(ProblemKind.MalformedJson, $"{what} is not valid JSON of the expected shape: {Describe(ex)}");
            return default;
        }
    }

    /// <summary>The reader's message names the path and position but never the offending bytes.</summary>
    private static string Describe(JsonException ex)
    {
        var where = ex.Path is { Length: > 0 } ? $" at {ex.Path}" : "";
        var line = ex.LineNumber is { } l ? $" (line {l + 1}, byte {ex.BytePositionInLine + 1})" : "";
        var message = ex.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
        {
            message = message[..cut];
        }

        return ProblemWriter.Printable(message, 300) + where + line;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooLarge(long size, long limit, string what)
        => ProblemException.Throw(ProblemKind.MessageTooLarge, $"{what} is {size} bytes; the most this server accepts is {limit} bytes");
}
