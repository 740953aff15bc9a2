using System.Globalization;
using Sluice.Core.Log;

namespace Sluice.Core.Delay;

/// <summary>
/// The records of a holding partition. Each starts with one control header, <c>sluice-delay</c>, placed before the
/// message's own headers (so a client header of the same name is kept as it was):
/// <code>
///   m:{due epoch ms}               a delayed message: its key, value and headers follow as produced
///   c:{offset}                     a cancel request for the message at that offset (no key, no value)
///   r:{cancel offset}:{1|0}        the owner's decision on that request: 1 cancelled, 0 not cancellable
/// </code>
/// The partition's owner reads them in log order, so it alone decides between "cancelled" and "already fired".
/// A fired message keeps key, value and headers, and gets <c>sluice-delay-id</c> naming its id.
/// </summary>
internal static class HoldingRecords
{
    public const string ControlHeader = "sluice-delay";

    /// <summary>The header a fired message carries: the id its produce was answered with (consumers may deduplicate on it).</summary>
    public const string DelayIdHeader = "sluice-delay-id";

    public enum Kind
    {
        None,
        Message,
        Cancel,
        Decision,
    }

    public static RecordToAppend Message(RecordToAppend record, long dueMs)
    {
        var headers = new List<KeyValuePair<string, string>>((record.Headers?.Count ?? 0) + 1)
        {
            new(ControlHeader, string.Create(CultureInfo.InvariantCulture, $"m:{dueMs}")),
        };
        if (record.Headers is { } own)
        {
            headers.AddRange(own);
        }

        return new RecordToAppend(record.Key, record.Value, headers);
    }

    public static RecordToAppend Cancel(long target)
        => new(null, null, [new(ControlHeader, string.Create(CultureInfo.InvariantCulture, $"c:{target}"))]);

    public static RecordToAppend Decision(long cancelOffset, bool cancelled)
        => new(null, null, [new(ControlHeader, string.Create(CultureInfo.InvariantCulture, $"r:{cancelOffset}:{(cancelled ? 1 : 0)}"))]);

    /// <summary>What a holding record is: a message (<paramref name="a"/> = due), a cancel (<paramref name="a"/> = target) or a decision (<paramref name="a"/> = cancel offset, <paramref name="b"/> = 1 when cancelled).</summary>
    public static Kind Read(StoredRecord record, out long a, out long b)
    {
        a = 0;
        b = 0;
        if (record.Headers.Count == 0 || record.Headers[0].Key != ControlHeader)
        {
            return Kind.None;
        }

        var v = record.Headers[0].Value.AsSpan();
        if (v.Length < 3 || v[1] != ':')
        {
            return Kind.None;
        }

        var rest = v[2..];
        switch (v[0])
        {
            case 'm':
                return long.TryParse(rest, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out a) ? Kind.Message : Kind.None;
            case 'c':
                return long.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out a) ? Kind.Cancel : Kind.None;
            case 'r':
                var colon = rest.IndexOf(':');
                return colon > 0
                    && long.TryParse(rest[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out a)
                    && long.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out b)
                    ? Kind.Decision
                    : Kind.None;
            default:
                return Kind.None;
        }
    }

    /// <summary>
    /// The message as it is delivered: key, value and its own headers, plus <see cref="DelayIdHeader"/> (which replaces a
    /// header of that name the producer sent, so consumers can trust it).
    /// </summary>
    public static RecordToAppend ToFired(StoredRecord held, string delayId)
    {
        var headers = new List<KeyValuePair<string, string>>(held.Headers.Count);
        for (var i = 1; i < held.Headers.Count; i++)
        {
            if (!string.Equals(held.Headers[i].Key, DelayIdHeader, StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(held.Headers[i]);
            }
        }

        headers.Add(new(DelayIdHeader, delayId));
        return new RecordToAppend(held.Key, held.Value, headers);
    }
}
