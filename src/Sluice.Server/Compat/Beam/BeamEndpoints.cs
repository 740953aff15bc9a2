using Sluice.Server.Problems;
using Sluice.Server.Security;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Pulsar Beam's HTTP API on the main port, unchanged for its clients (kafkaesque-io/pulsar-beam, <c>src/route</c>):
/// <code>
///   POST /v1/firehose                                   produce; topic in the TopicFn header
///   POST /v2/firehose/{persistent}/{tenant}/{ns}/{topic} produce (TopicFn overrides the path)
///   GET  /v2/sse/{persistent}/{tenant}/{ns}/{topic}      Server-Sent Events
///   GET  /v2/poll/{persistent}/{tenant}/{ns}/{topic}     a batch as JSON, 204 when none
///   GET|POST|DELETE /v2/topic, GET|DELETE /v2/topic/{topicKey}   topic documents and their webhooks
///   GET  /status                                         200
/// </code>
/// Every route answers errors as Beam did, <c>{"error": "..."}</c> with its statuses, and authenticates itself
/// (<see cref="AccessRule.Adapter"/>, <see cref="BeamAccess"/>).
/// </summary>
internal static class BeamEndpoints
{
    private const string Topic = "/{persistent}/{tenant}/{namespace}/{topic}";

    public static void Map(IEndpointRouteBuilder app)
    {
        var beam = new BeamServices(app.ServiceProvider);
        var dialect = CompatDialect.Beam;
        var group = app.MapGroup("").WithTags("pulsar-beam").WithMetadata(AccessRule.Adapter, dialect.Shape);

        group.MapPost("/v1/firehose", dialect.Wrap(c => BeamFirehose.ReceiveAsync(c, beam, fromRoute: false)))
            .WithName("BeamFirehoseV1").WithSummary("Pulsar Beam: publish the body to the topic in the TopicFn header; 200 once durable (mode=async: at once)")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status401Unauthorized).Produces(StatusCodes.Status422UnprocessableEntity);
        group.MapPost("/v2/firehose" + Topic, dialect.Wrap(c => BeamFirehose.ReceiveAsync(c, beam, fromRoute: true)))
            .WithName("BeamFirehose").WithSummary("Pulsar Beam: publish the body (Content-Encoding: gzip decoded; includeHeaders wraps headers and body); 200 once durable")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status401Unauthorized).Produces(StatusCodes.Status422UnprocessableEntity);
        group.MapGet("/v2/sse" + Topic, dialect.Wrap(c => BeamSse.StreamAsync(c, beam)))
            .WithName("BeamSse").WithMetadata(OwnsItsFailures.Instance).WithSummary("Pulsar Beam: Server-Sent Events (id: partition:offset, data: the raw payload); acked once written and flushed")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").Produces(StatusCodes.Status422UnprocessableEntity);
        group.MapGet("/v2/poll" + Topic, dialect.Wrap(c => BeamPoll.PollAsync(c, beam)))
            .WithName("BeamPoll").WithSummary("Pulsar Beam: up to batchSize messages, each waited for up to perMessageTimeoutMs; 204 when none; acked once the answer is written")
            .Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status204NoContent).Produces(StatusCodes.Status422UnprocessableEntity);

        group.MapGet("/v2/topic/{topicKey}", dialect.Wrap(c => BeamTopicEndpoints.GetAsync(c, beam)))
            .WithName("BeamGetTopicByKey").WithSummary("Pulsar Beam: a topic document by key").Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status404NotFound);
        group.MapGet("/v2/topic", dialect.Wrap(c => BeamTopicEndpoints.GetAsync(c, beam)))
            .WithName("BeamGetTopic").WithSummary("Pulsar Beam: a topic document by the TopicFullName and PulsarURL of the body").Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status404NotFound);
        group.MapPost("/v2/topic", dialect.Wrap(c => BeamTopicEndpoints.UpdateAsync(c, beam)))
            .WithName("BeamUpdateTopic").WithSummary("Pulsar Beam: create or replace a topic document and its webhooks (201)").Produces(StatusCodes.Status201Created).Produces(StatusCodes.Status422UnprocessableEntity);
        group.MapDelete("/v2/topic/{topicKey}", dialect.Wrap(c => BeamTopicEndpoints.DeleteAsync(c, beam)))
            .WithName("BeamDeleteTopicByKey").WithSummary("Pulsar Beam: delete a topic document and its webhooks; answers the key").Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status404NotFound);
        group.MapDelete("/v2/topic", dialect.Wrap(c => BeamTopicEndpoints.DeleteAsync(c, beam)))
            .WithName("BeamDeleteTopic").WithSummary("Pulsar Beam: delete the topic document the body names; answers the key").Produces(StatusCodes.Status200OK).Produces(StatusCodes.Status404NotFound);

        group.MapGet("/status", dialect.Wrap(c => StatusAsync(c, beam)))
            .WithName("BeamStatus").WithSummary("Pulsar Beam: 200 (with authentication on, an Authorization header must be present, as Beam asked)").Produces(StatusCodes.Status200OK);
    }

    private static Task StatusAsync(HttpContext context, BeamServices beam)
    {
        // Beam checked only that a token was there.
        if (beam.Access.AuthEnabled && context.Request.Headers.Authorization.ToString().Replace("Bearer", "", StringComparison.Ordinal).Trim().Length <= 1)
        {
            CompatException.Throw(StatusCodes.Status401Unauthorized, "Unauthorized");
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        return Task.CompletedTask;
    }
}
