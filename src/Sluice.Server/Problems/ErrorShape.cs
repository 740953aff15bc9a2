using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Sluice.Server.Problems;

/// <summary>
/// Endpoint metadata: the shape of a route's error answers. Sluice's own routes answer RFC 9457 problem+json (the
/// default, no metadata needed). A compatibility API answers as its ancestor did, for example Kafka-Pixy's
/// <c>{"error": "..."}</c> or kateway's <c>{"errmsg": "..."}</c>: it declares <c>.WithMetadata(ErrorShape.Field("error"))</c>,
/// and then every error the server writes for that route, its own and the shared ones (a bad name, a missing topic,
/// an internal fault), takes that shape. The OpenAPI document carries it as <c>x-sluice-error-shape</c>, so the
/// malformed-input sweep checks each route against its own shape.
/// </summary>
internal sealed record ErrorShape
{
    public const string OpenApiExtension = "x-sluice-error-shape";

    private ErrorShape(string? field) => MessageField = field;

    /// <summary>RFC 9457 <c>application/problem+json</c>: Sluice's own API.</summary>
    public static ErrorShape Problem { get; } = new((string?)null);

    /// <summary>The JSON object field holding the message (<c>error</c>, <c>errmsg</c>); null for problem+json.</summary>
    public string? MessageField { get; }

    /// <summary><c>{"&lt;field&gt;": "message"}</c> as <c>application/json</c>, with the status of the error.</summary>
    public static ErrorShape Field(string field)
    {
        ArgumentException.ThrowIfNullOrEmpty(field);
        return new ErrorShape(field);
    }

    /// <summary>The shape of the endpoint being served (problem+json without one, or without metadata).</summary>
    public static ErrorShape For(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<ErrorShape>() ?? Problem;

    /// <summary>Writes an error of <paramref name="kind"/> in this shape.</summary>
    public Task WriteAsync(HttpContext context, ProblemKind kind, string detail)
    {
        if (MessageField is null)
        {
            return ProblemWriter.WriteAsync(context, kind, detail);
        }

        return WriteAsync(context, kind.Status, detail);
    }

    /// <summary>Writes <c>{"field": detail}</c> with <paramref name="status"/>: a compatibility API's own errors, with its ancestor's statuses.</summary>
    public Task WriteAsync(HttpContext context, int status, string detail)
    {
        var field = MessageField ?? throw new InvalidOperationException("problem+json takes a problem kind, not a bare status");
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        var body = new JsonObject { [field] = ProblemWriter.Printable(detail) };
        return response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    /// <summary>Adds <c>x-sluice-error-shape</c> to each operation of the OpenAPI document: <c>"problem"</c> or <c>{"field": name}</c>.</summary>
    public static void Describe(OpenApiOptions options) => options.AddOperationTransformer((operation, context, _) =>
    {
        var shape = context.Description.ActionDescriptor.EndpointMetadata.OfType<ErrorShape>().LastOrDefault() ?? Problem;
        JsonNode value = shape.MessageField is { } field ? new JsonObject { ["field"] = field } : JsonValue.Create("problem");
        operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
        operation.Extensions[OpenApiExtension] = new JsonNodeExtension(value);
        return Task.CompletedTask;
    });
}
