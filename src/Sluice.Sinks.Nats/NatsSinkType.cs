using Sluice.Core.Replication;

[assembly: ReplicationSink(typeof(Sluice.Sinks.Nats.NatsSinkType))]

namespace Sluice.Sinks.Nats;

/// <summary>
/// <c>"type": "nats"</c>: publishes each record to NATS JetStream on a subject per topic (<c>subject</c>, a template),
/// with <c>Nats-Msg-Id</c> = the record's idempotency key, so JetStream keeps each record once within the stream's
/// duplicate window. The stream is the user's, or made (and extended to new subjects) when <c>stream</c> names one.
/// A batch counts as written once JetStream acknowledged every message (a duplicate answer included).
/// </summary>
public sealed class NatsSinkType : ReplicationSinkType
{
    public override string Name => "nats";

    public override string TargetField => "subject";

    public override object ReadSettings(SinkSettings settings)
    {
        var url = settings.RequiredString("url");

        // NATS takes a comma-separated list of servers; each must be a URL the client can dial.
        foreach (var part in url.Split(','))
        {
            if (!Uri.TryCreate(part.Trim(), UriKind.Absolute, out var server) || server.Scheme is not ("nats" or "tls" or "ws" or "wss") || server.Host.Length == 0)
            {
                // Never quote the value: it may hold a password.
                SinkSettings.Fail("url", "must be nats://host:port (or tls://, ws://, wss://), several separated by commas, credentials as nats://user:${secret:name}@host:4222");
            }
        }

        var stream = settings.String("stream");
        if (stream is not null && StreamNameProblem(stream) is { } problem)
        {
            SinkSettings.Fail("stream", problem);
        }

        var timeout = TimeSpan.FromMilliseconds(settings.Integer("timeoutMs", 100, 600_000) ?? 30_000);
        return new NatsSinkSettings(url, stream, timeout);
    }

    public override ValueTask<string?> CheckTargetAsync(object settings, string target, SinkContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult(NatsSubjects.PublishProblem(target) is { } problem ? $"subject '{target}' {problem}" : null);

    public override IReplicationSink CreateSink(object settings, SinkContext context) => new NatsSink((NatsSinkSettings)settings, context);

    // JetStream names become one token of its API subjects: no '.', wildcards, whitespace or path separators.
    private static string? StreamNameProblem(string name)
        => name.Length > 255 || name.Any(c => c is '.' or '*' or '>' or '/' or '\\' || char.IsWhiteSpace(c) || char.IsControl(c))
            ? "must be at most 255 characters without '.', '*', '>', '/', '\\' or whitespace"
            : null;
}

/// <summary>The nats sink's settings (the URL may hold a resolved secret: never show it).</summary>
internal sealed record NatsSinkSettings(string Url, string? Stream, TimeSpan Timeout);
