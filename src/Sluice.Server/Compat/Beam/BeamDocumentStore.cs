using System.Text;
using System.Text.Json;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Server.Compat.Beam;

/// <summary>
/// Beam's topic documents, kept where the gateway keeps all its state: in the backend, in the internal compacted topic
/// <c>__sluice/system/beam-topics</c> (key = document key, value = the document's JSON, token included; null = deleted).
/// Every operation first reads what was appended since it last looked, so documents written through another gateway of
/// a fleet are seen, and a restart reads them all again.
/// </summary>
internal sealed partial class BeamDocumentStore(IMessageLog log, ILogger<BeamDocumentStore> logger)
{
    public static readonly TopicName Topic = new("__sluice", "system", "beam-topics");

    private static readonly TopicSettings Settings = new() { Partitions = 1, Compacted = true };

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, BeamTopicDocument> _documents = new(StringComparer.Ordinal);
    private long _next;
    private bool _exists;

    /// <summary>Runs <paramref name="action"/> alone, on documents read up to the topic's end.</summary>
    public async ValueTask<T> WithDocumentsAsync<T>(Func<Documents, ValueTask<T>> action, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await CatchUpAsync(cancellationToken);
            return await action(new Documents(this));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The documents, while <see cref="WithDocumentsAsync"/> holds them.</summary>
    internal readonly struct Documents(BeamDocumentStore store)
    {
        public BeamTopicDocument? Get(string key) => store._documents.GetValueOrDefault(key);

        public ValueTask SaveAsync(BeamTopicDocument document, CancellationToken cancellationToken)
            => store.AppendAsync(document.Key!, JsonSerializer.SerializeToUtf8Bytes(document, BeamJsonContext.Default.BeamTopicDocument), cancellationToken);

        public ValueTask DeleteAsync(string key, CancellationToken cancellationToken) => store.AppendAsync(key, null, cancellationToken);
    }

    private async ValueTask AppendAsync(string key, byte[]? value, CancellationToken cancellationToken)
    {
        await EnsureTopicAsync(cancellationToken);
        // The cast matters: a null byte[] would convert to an empty value, not to a tombstone.
        await log.AppendAsync(Topic, 0, [new RecordToAppend(Encoding.UTF8.GetBytes(key), value is null ? (ReadOnlyMemory<byte>?)null : value)], cancellationToken);

        // Read back through the log, so this gateway's own writes and a fleet's arrive the same way and in order.
        await CatchUpAsync(cancellationToken);
    }

    private async ValueTask CatchUpAsync(CancellationToken cancellationToken)
    {
        if (!_exists && await log.DescribeTopicAsync(Topic, cancellationToken) is null)
        {
            return;
        }

        _exists = true;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await log.ReadAsync(Topic, 0, _next, 1000, 4 * 1024 * 1024, cancellationToken);
            }
            catch (OffsetOutOfRangeException)
            {
                // Compaction or retention moved the start past what was read: read everything again.
                _documents.Clear();
                _next = 0;
                var info = await log.DescribeTopicAsync(Topic, cancellationToken);
                _next = info?.Partitions[0].StartOffset ?? 0;
                continue;
            }

            foreach (var record in result.Records)
            {
                Apply(record);
            }

            _next = result.NextOffset;
            if (result.Records.Count == 0 || _next >= result.EndOffset)
            {
                return;
            }
        }
    }

    private void Apply(StoredRecord record)
    {
        if (record.Key is not { } keyBytes)
        {
            return;
        }

        var key = Encoding.UTF8.GetString(keyBytes.Span);
        if (record.Value is not { } value)
        {
            _documents.Remove(key);
            return;
        }

        try
        {
            if (JsonSerializer.Deserialize(value.Span, BeamJsonContext.Default.BeamTopicDocument) is { } document)
            {
                _documents[key] = document;
            }
        }
        catch (JsonException ex)
        {
            Log.DocumentIgnored(logger, key, record.Offset, ex.Message);
        }
    }

    private async ValueTask EnsureTopicAsync(CancellationToken cancellationToken)
    {
        if (_exists)
        {
            return;
        }

        try
        {
            await log.CreateTopicAsync(Topic, Settings, cancellationToken);
        }
        catch (TopicAlreadyExistsException)
        {
            // Another gateway created it.
        }

        _exists = true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = CompatLogEvents.BeamDocumentIgnored, Level = LogLevel.Warning, Message = "Beam topic document {Key} at offset {Offset} of __sluice/system/beam-topics is not readable and is ignored: {Reason}")]
        public static partial void DocumentIgnored(ILogger logger, string key, long offset, string reason);
    }
}
