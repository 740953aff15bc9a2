using System.Buffers;
using System.Globalization;
using System.Text;
using Sluice.Core.Log;
using Sluice.Server.Hosting;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// <c>POST /v1/msgs/:topic/:ver?key=&amp;async=1</c> with <c>Appid</c>, <c>Pubkey</c> and optionally <c>X-Tag</c>: the body
/// is the message, published to the caller's own topic <c>{appid}/{topic}/{ver}</c>. 201 once durable (202 with
/// <c>async=1</c>), <c>X-Partition</c> and <c>X-Offset</c> (-1 when asynchronous), body <c>{"ok":1}</c>. A tag goes in
/// the message's header <c>tag</c>, where tag filters find it.
/// </summary>
internal static class KatewayPub
{
    /// <summary>kateway's limits: a key of at most 256 bytes, a tag of at most 1024.</summary>
    public const int MaxKeyLength = 256;
    public const int MaxTagLength = 1024;

    public static readonly byte[] Ok = "{\"ok\":1}"u8.ToArray();

    public static async Task PublishAsync(HttpContext context, KatewayServices kateway)
    {
        var caller = kateway.Access.Authenticate(context, "Pubkey");
        var topic = KatewayNames.Topic(KatewayAccess.AppOf(caller), context);
        kateway.Access.Require(caller, topic, Permission.Produce);
        var record = await ReadRecordAsync(context, kateway);

        int partition;
        long offset = -1;
        var isAsync = context.Request.Query["async"] == "1";
        if (isAsync)
        {
            partition = await kateway.Producer.AppendInBackgroundAsync(topic, record, context.RequestAborted);
        }
        else
        {
            (partition, var result) = await kateway.Producer.AppendAsync(topic, record, context.RequestAborted);
            offset = result.BaseOffset;
        }

        var response = context.Response;
        response.Headers["X-Partition"] = partition.ToString(CultureInfo.InvariantCulture);
        response.Headers["X-Offset"] = offset.ToString(CultureInfo.InvariantCulture);
        WriteOk(response, isAsync ? StatusCodes.Status202Accepted : StatusCodes.Status201Created);
    }

    /// <summary>
    /// Kateway's every success: <paramref name="status"/> and <c>{"ok":1}</c> with its length, as Go's server sends a small
    /// answer, into the pipe unflushed: Kestrel sends it in one piece when the endpoint returns (a flushed, chunked answer
    /// was two sends with inline I/O, note 0047).
    /// </summary>
    public static void WriteOk(HttpResponse response, int status = StatusCodes.Status200OK)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = Ok.Length;
        response.BodyWriter.Write(Ok);
    }

    /// <summary>The message of a pub or job request: body, <c>?key=</c>, <c>X-Tag</c>; kateway's 400s and 413.</summary>
    internal static async ValueTask<RecordToAppend> ReadRecordAsync(HttpContext context, KatewayServices kateway, int? maxBytes = null)
    {
        var key = context.Request.Query["key"].ToString();
        if (key.Length > MaxKeyLength)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "too big key");
        }

        var tag = context.Request.Headers["X-Tag"].ToString();
        if (tag.Length > MaxTagLength)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "too big tag");
        }

        var limit = maxBytes ?? kateway.Options.MaxMessageBytes;
        if (context.Request.ContentLength > limit)
        {
            CompatException.Throw(StatusCodes.Status413PayloadTooLarge, "too big message");
        }

        var body = await HttpRequestReader.ReadBodyAsync(context, limit, "the message");
        if (body.Length == 0)
        {
            CompatException.Throw(StatusCodes.Status400BadRequest, "too small message");
        }

        List<KeyValuePair<string, string>>? headers = null;
        if (context.Request.ContentType is { Length: > 0 } contentType)
        {
            headers = [new("content-type", contentType)];
        }

        if (tag.Length > 0)
        {
            headers ??= [];
            headers.Add(new("tag", tag));
        }

        return new RecordToAppend(key.Length > 0 ? Encoding.UTF8.GetBytes(key) : null, body, headers);
    }
}
