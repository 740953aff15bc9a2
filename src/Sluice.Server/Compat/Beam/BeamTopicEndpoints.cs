using System.Text.Json;
using Sluice.Core.Topics;
using Sluice.Server.Hosting;
using Sluice.Server.Security;
using Sluice.Server.Webhooks;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// <c>/v2/topic</c> and <c>/v2/topic/{topicKey}</c>: Beam's topic documents. POST upserts (201 with the stored
/// document), GET and DELETE find a document by the key in the path or by a body naming
/// <c>{"TopicFullName", "PulsarURL"}</c>; DELETE answers the key as a JSON string. A missing document is 404 before the
/// tenant rule's 403; a bad document is 422. <c>Token</c> is stored but answered as a hint (<c>sha256:…</c>); posting the
/// hint back keeps the stored token.
/// </summary>
internal static partial class BeamTopicEndpoints
{
    private const int MaxBodyBytes = 256 * 1024;

    public static async Task GetAsync(HttpContext context, BeamServices beam)
    {
        var caller = await beam.Access.AuthenticateAsync(context);
        var key = await KeyAsync(context);
        var document = await beam.Documents.WithDocumentsAsync(d => ValueTask.FromResult(d.Get(key)), context.RequestAborted)
            ?? throw new CompatException(StatusCodes.Status404NotFound, "no document found");
        Authorize(beam, caller, document);
        await WriteAsync(context, StatusCodes.Status200OK, document);
    }

    public static async Task UpdateAsync(HttpContext context, BeamServices beam)
    {
        var caller = await beam.Access.AuthenticateAsync(context);
        var body = await HttpRequestReader.ReadBodyAsync(context, MaxBodyBytes, "the topic document");
        var document = Decode<BeamTopicDocument>(body) ?? throw new CompatException(StatusCodes.Status422UnprocessableEntity, "the body must be a topic document");
        BeamWebhooks.Validate(document);
        var key = BeamNames.Key(document.TopicFullName, document.PulsarUrl);
        var topic = BeamNames.Parse(document.TopicFullName!).Topic;
        if (!beam.Access.MayAdminister(caller, topic))
        {
            CompatException.Throw(StatusCodes.Status403Forbidden, $"this token may not administer documents of tenant {topic.Tenant}");
        }

        var stored = await beam.Documents.WithDocumentsAsync(async documents =>
        {
            var previous = documents.Get(key);
            var now = beam.Time.GetUtcNow();
            document.Key = key;
            document.TopicFullName = document.TopicFullName!.Trim();
            document.PulsarUrl = document.PulsarUrl!.Trim();
            document.CreatedAt = previous?.CreatedAt ?? now;
            document.UpdatedAt = now;
            if (previous?.Token is { } token && document.Token == WebhookSigner.Hint(token))
            {
                // A document read back and posted again carries the hint: keep the token it stands for.
                document.Token = token;
            }

            // The webhooks first: a failure (a refused URL, say) stores nothing, and a crash in between is repaired by
            // posting the document again (ids are stable).
            await BeamWebhooks.ApplyAsync(beam, topic, document, previous, context.RequestAborted);
            await documents.SaveAsync(document, context.RequestAborted);
            Log.DocumentStored(beam.Logger, key, topic.ToString(), document.Webhooks?.Count ?? 0);
            return document;
        }, context.RequestAborted);

        await WriteAsync(context, StatusCodes.Status201Created, stored);
    }

    public static async Task DeleteAsync(HttpContext context, BeamServices beam)
    {
        var caller = await beam.Access.AuthenticateAsync(context);
        var key = await KeyAsync(context);
        await beam.Documents.WithDocumentsAsync(async documents =>
        {
            var document = documents.Get(key) ?? throw new CompatException(StatusCodes.Status404NotFound, "no document found");
            Authorize(beam, caller, document);
            await BeamWebhooks.DeleteAllAsync(beam, document, context.RequestAborted);
            await documents.DeleteAsync(key, context.RequestAborted);
            Log.DocumentDeleted(beam.Logger, key);
            return true;
        }, context.RequestAborted);

        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.WriteAsync(JsonSerializer.Serialize(key, BeamJsonContext.Default.String), CancellationToken.None);
    }

    private static void Authorize(BeamServices beam, Caller caller, BeamTopicDocument document)
    {
        // Stored documents name valid topics; an unreadable one is nobody's but a superuser's.
        var allowed = caller.IsSuperuser;
        try
        {
            allowed |= beam.Access.MayAdminister(caller, BeamNames.Parse(document.TopicFullName ?? "").Topic);
        }
        catch (CompatException)
        {
        }

        if (!allowed)
        {
            CompatException.Throw(StatusCodes.Status403Forbidden, "this token may not administer this document's tenant");
        }
    }

    /// <summary>The key in the path, else computed from a body naming the topic and cluster (422 when neither).</summary>
    private static async ValueTask<string> KeyAsync(HttpContext context)
    {
        if (context.Request.RouteValues["topicKey"] is string key)
        {
            return key;
        }

        var body = await HttpRequestReader.ReadBodyAsync(context, MaxBodyBytes, "the request body");
        if (body.Length == 0)
        {
            CompatException.Throw(StatusCodes.Status422UnprocessableEntity, "missing topic key or topic names in body");
        }

        var names = Decode<BeamTopicDocument>(body) ?? throw new CompatException(StatusCodes.Status422UnprocessableEntity, "missing topic key or topic names in body");
        return BeamNames.Key(names.TopicFullName, names.PulsarUrl);
    }

    private static T? Decode<T>(byte[] body)
        where T : class
    {
        try
        {
            return (T?)JsonSerializer.Deserialize(body, typeof(T), BeamJsonContext.Default);
        }
        catch (JsonException ex)
        {
            throw new CompatException(StatusCodes.Status422UnprocessableEntity, "the body is not a JSON topic document: " + ex.Message.Split(" Path:")[0]);
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, BeamTopicDocument document)
    {
        var answer = JsonSerializer.SerializeToUtf8Bytes(document, BeamJsonContext.Default.BeamTopicDocument);
        var copy = JsonSerializer.Deserialize(answer, BeamJsonContext.Default.BeamTopicDocument)!;
        copy.Token = copy.Token is { Length: > 0 } token ? WebhookSigner.Hint(token) : "";

        // Go wrote "" for an unset string and [] for the webhooks Beam made; clients may rely on never seeing null.
        copy.TopicFullName ??= "";
        copy.PulsarUrl ??= "";
        copy.Tenant ??= "";
        copy.Key ??= "";
        copy.Notes ??= "";
        copy.Webhooks ??= [];
        foreach (var webhook in copy.Webhooks)
        {
            webhook.Url ??= "";
            webhook.Headers ??= [];
            webhook.Subscription ??= "";
            webhook.SubscriptionType ??= "";
            webhook.InitialPosition ??= "";
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(copy, BeamJsonContext.Answers.BeamTopicDocument), CancellationToken.None);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = CompatLogEvents.BeamDocumentStored, Level = LogLevel.Information, Message = "Beam topic document {Key} stored for {Topic} with {Webhooks} webhook(s)")]
        public static partial void DocumentStored(ILogger logger, string key, string topic, int webhooks);

        [LoggerMessage(EventId = CompatLogEvents.BeamDocumentDeleted, Level = LogLevel.Information, Message = "Beam topic document {Key} deleted with its webhooks")]
        public static partial void DocumentDeleted(ILogger logger, string key);
    }
}
