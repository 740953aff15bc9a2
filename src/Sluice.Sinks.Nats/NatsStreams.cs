using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sluice.Core.Replication;

namespace Sluice.Sinks.Nats;

/// <summary>
/// The sink's own stream (<c>stream</c> in the settings): created on the first write with the subject it needs, and
/// extended with each new subject (a namespace source writing a topic created later). Created streams use JetStream's
/// defaults (file storage, limits retention, a two-minute duplicate window); a stream that exists keeps its settings and
/// only gains subjects. Changes are serialised: two subjects added at once must not overwrite each other's update.
/// </summary>
internal sealed partial class NatsStreams(NatsJSContext js, string stream, SinkContext context)
{
    // JSStreamNotFoundErr.
    private const int StreamNotFound = 10059;

    private readonly ConcurrentDictionary<string, Lazy<Task>> _covered = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changing = new(1, 1);

    /// <summary>Completes once the stream exists and captures <paramref name="subject"/>; a failure is tried again at the next write.</summary>
    public async Task EnsureCoversAsync(string subject, CancellationToken cancellationToken)
    {
        var ensured = _covered.GetOrAdd(subject, s => new Lazy<Task>(() => CoverAsync(s, cancellationToken)));
        try
        {
            await ensured.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _covered.TryRemove(new KeyValuePair<string, Lazy<Task>>(subject, ensured));
            throw;
        }
    }

    private async Task CoverAsync(string subject, CancellationToken cancellationToken)
    {
        await _changing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            StreamConfig config;
            try
            {
                config = (await js.GetStreamAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.Config;
            }
            catch (NatsJSApiException ex) when (ex.Error.ErrCode == StreamNotFound)
            {
                await js.CreateStreamAsync(new StreamConfig(stream, [subject]), cancellationToken).ConfigureAwait(false);
                Log.StreamCreated(context.Logger, context.Replicator, stream, subject);
                return;
            }

            var subjects = config.Subjects ?? [];
            if (!subjects.Any(filter => NatsSubjects.Covers(filter, subject)))
            {
                config.Subjects = [.. subjects, subject];
                await js.UpdateStreamAsync(config, cancellationToken).ConfigureAwait(false);
                Log.StreamExtended(context.Logger, context.Replicator, stream, subject);
            }
        }
        finally
        {
            _changing.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = NatsEventIds.StreamCreated, Level = LogLevel.Information, Message = "Replicator {Replicator}: created JetStream stream '{Stream}' for subject '{Subject}'")]
        public static partial void StreamCreated(ILogger logger, string replicator, string stream, string subject);

        [LoggerMessage(EventId = NatsEventIds.StreamExtended, Level = LogLevel.Information, Message = "Replicator {Replicator}: added subject '{Subject}' to JetStream stream '{Stream}'")]
        public static partial void StreamExtended(ILogger logger, string replicator, string stream, string subject);
    }
}
