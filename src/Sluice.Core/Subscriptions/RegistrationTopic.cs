using System.Text;
using Sluice.Core.Log;
using Sluice.Core.Topics;

namespace Sluice.Core.Subscriptions;

/// <summary>Decodes one stored registration; null for a record this version cannot read.</summary>
internal delegate T? RegistrationDecoder<T>(ReadOnlySpan<byte> value);

/// <summary>
/// A one-partition compacted state topic of registrations (webhooks, replicators): key = the registration's id or name,
/// value = its encoding, null = deleted. Created on first use; read from start to end on load, the last value per key
/// winning.
/// </summary>
internal sealed class RegistrationTopic<T>(IMessageLog log, TopicName topic, RegistrationDecoder<T> decode)
    where T : class
{
    public TopicName Topic => topic;

    /// <summary>Every stored registration, and the offset after the last record read (where a fleet member follows on).</summary>
    public async ValueTask<(List<T> Items, long Next)> LoadAsync(CancellationToken cancellationToken)
    {
        await EnsureTopicAsync(cancellationToken).ConfigureAwait(false);
        var (all, next) = await StateTopics.LoadWithPositionAsync(log, topic, cancellationToken).ConfigureAwait(false);
        var result = new List<T>();
        foreach (var (_, value) in all)
        {
            if (value is { } v && decode(v.Span) is { } item)
            {
                result.Add(item);
            }
        }

        return (result, next);
    }

    /// <summary>Appends <paramref name="value"/> under <paramref name="key"/>; null deletes it. Completes once durable.</summary>
    public async ValueTask PutAsync(string key, byte[]? value, CancellationToken cancellationToken)
    {
        await EnsureTopicAsync(cancellationToken).ConfigureAwait(false);
        // A null array converts to an empty value (ReadOnlyMemory's implicit conversion), not to no value, and a
        // tombstone must carry none.
        ReadOnlyMemory<byte>? stored = null;
        if (value is not null)
        {
            stored = value;
        }

        await log.AppendAsync(topic, 0, [new RecordToAppend(Encoding.UTF8.GetBytes(key), stored)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What a record followed from the topic (written by any fleet member, this one's own included) changes here: null when
    /// nothing (an unreadable record, a deletion of something unknown, the same registration again), else the key and the
    /// new registration (null: deleted).
    /// </summary>
    public (string Key, T? Changed)? Change(StoredRecord record, Func<string, T?> current, Func<T, byte[]> encode)
    {
        if (record.Key is not { } k)
        {
            return null;
        }

        var key = Encoding.UTF8.GetString(k.Span);
        var changed = record.Value is { } value ? decode(value.Span) : null;
        var now = current(key);
        if (changed is null)
        {
            return now is null || record.Value is not null ? null : (key, null);
        }

        return now is not null && encode(now).AsSpan().SequenceEqual(encode(changed)) ? null : (key, changed);
    }

    private async ValueTask EnsureTopicAsync(CancellationToken cancellationToken)
    {
        if (await log.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        try
        {
            await log.CreateTopicAsync(topic, StateTopics.Settings, cancellationToken).ConfigureAwait(false);
        }
        catch (TopicAlreadyExistsException)
        {
            // Another caller created it meanwhile.
        }
    }
}
