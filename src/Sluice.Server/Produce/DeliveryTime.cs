using System.Globalization;
using System.Text.Json;
using Sluice.Core.Delay;
using Sluice.Server.Problems;

namespace Sluice.Server.Produce;

/// <summary>
/// A produce's requested delivery time: <c>Sluice-Deliver-At</c> (ISO-8601 with a zone, or epoch milliseconds) or
/// <c>Sluice-Deliver-After</c> (milliseconds from now), as headers or as <c>?deliverAt=</c> / <c>?deliverAfterMs=</c>;
/// per batch record and WebSocket frame, <c>deliverAt</c> / <c>deliverAfterMs</c>. At most <see cref="DelayLimits.MaxDelay"/>
/// ahead; a time not after now is an ordinary produce. Anything else is a 400 naming what was wrong. The gRPC API's
/// <c>deliver_at_ms</c> / <c>deliver_after_ms</c> follow the same rules (<see cref="FromMilliseconds"/>).
/// </summary>
internal static class DeliveryTime
{
    public const string DeliverAtHeader = "Sluice-Deliver-At";
    public const string DeliverAfterHeader = "Sluice-Deliver-After";
    public const string DeliverAtQuery = "deliverAt";
    public const string DeliverAfterQuery = "deliverAfterMs";

    /// <summary>The delivery time a single produce asks for (headers win over the query), or null for none.</summary>
    public static DateTimeOffset? FromRequest(HttpRequest request, DateTimeOffset now)
    {
        var at = Single(request, DeliverAtHeader, DeliverAtQuery);
        var after = Single(request, DeliverAfterHeader, DeliverAfterQuery);
        return Resolve(at, after, now, "");
    }

    /// <summary>The delivery time of the query alone (a WebSocket's default for its frames), or null.</summary>
    public static DateTimeOffset? FromQuery(HttpRequest request, DateTimeOffset now)
    {
        var at = request.Query.TryGetValue(DeliverAtQuery, out var a) ? a.ToString() : null;
        var after = request.Query.TryGetValue(DeliverAfterQuery, out var b) ? b.ToString() : null;
        return Resolve(at, after, now, "");
    }

    /// <summary>
    /// A batch record's or frame's delivery time: <paramref name="at"/> is a JSON string (ISO-8601 or epoch ms digits)
    /// or number (epoch ms). Returns an error text (prefixed with <paramref name="where"/>) instead of throwing.
    /// </summary>
    public static DateTimeOffset? FromJson(JsonElement? at, long? afterMs, DateTimeOffset now, string where, out string? error)
    {
        error = null;
        string? atText = null;
        if (at is { } element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    atText = element.GetString();
                    break;
                case JsonValueKind.Number when element.TryGetInt64(out var ms):
                    atText = ms.ToString(CultureInfo.InvariantCulture);
                    break;
                case JsonValueKind.Null:
                case JsonValueKind.Undefined:
                    break;
                default:
                    error = $"{where}deliverAt must be an ISO-8601 time with a zone (\"2026-05-01T12:00:00Z\") or epoch milliseconds";
                    return null;
            }
        }

        try
        {
            return Resolve(atText, afterMs?.ToString(CultureInfo.InvariantCulture), now, where);
        }
        catch (ProblemException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    private static string? Single(HttpRequest request, string header, string query)
    {
        if (request.Headers.TryGetValue(header, out var h))
        {
            return h.Count == 1 ? h[0] : throw new ProblemException(ProblemKind.InvalidParameter, $"give header {header} once");
        }

        if (request.Query.TryGetValue(query, out var q))
        {
            return q.Count == 1 ? q[0] : throw new ProblemException(ProblemKind.InvalidParameter, $"give query parameter {query} once");
        }

        return null;
    }

    private static DateTimeOffset? Resolve(string? at, string? afterMs, DateTimeOffset now, string where)
    {
        if (at is null && afterMs is null)
        {
            return null;
        }

        if (at is not null && afterMs is not null)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"{where}give a delivery time (deliver-at) or a delay (deliver-after), not both");
        }

        DateTimeOffset due;
        if (at is not null)
        {
            due = ParseAt(at, where);
        }
        else
        {
            if (!long.TryParse(afterMs, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms > (long)DelayLimits.MaxDelay.TotalMilliseconds)
            {
                throw new ProblemException(ProblemKind.InvalidParameter,
                    $"{where}deliver-after must be whole milliseconds from 0 to {(long)DelayLimits.MaxDelay.TotalMilliseconds} ({DelayLimits.MaxDelay.TotalDays:0} days); got '{ProblemWriter.Printable(afterMs, 40)}'");
            }

            due = now.AddMilliseconds(ms);
        }

        return Checked(due, now, where);
    }

    /// <summary>
    /// A gRPC produce's delivery time: <paramref name="atMs"/> (epoch milliseconds, field <c>deliver_at_ms</c>) or
    /// <paramref name="afterMs"/> (field <c>deliver_after_ms</c>), or null for none. The same rules as the HTTP forms.
    /// </summary>
    public static DateTimeOffset? FromMilliseconds(long? atMs, long? afterMs, DateTimeOffset now, string where)
    {
        if (atMs is null && afterMs is null)
        {
            return null;
        }

        if (atMs is not null && afterMs is not null)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, $"{where}give deliver_at_ms or deliver_after_ms, not both");
        }

        var maxMs = (long)DelayLimits.MaxDelay.TotalMilliseconds;
        if (afterMs is { } after)
        {
            return after is >= 0 && after <= maxMs
                ? Checked(now.AddMilliseconds(after), now, where)
                : throw new ProblemException(ProblemKind.InvalidParameter, $"{where}deliver_after_ms must be from 0 to {maxMs} ({DelayLimits.MaxDelay.TotalDays:0} days); got {after}");
        }

        // Far beyond a year is refused by the check below; past DateTimeOffset's range it cannot even be represented.
        var at = atMs!.Value;
        return at is >= 0 && at <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            ? Checked(DateTimeOffset.FromUnixTimeMilliseconds(at), now, where)
            : throw new ProblemException(ProblemKind.InvalidParameter, $"{where}deliver_at_ms must be milliseconds since the Unix epoch (0 or more); got {at}");
    }

    private static DateTimeOffset Checked(DateTimeOffset due, DateTimeOffset now, string where)
    {
        if (DelayLimits.Check(due, now) is { } reason)
        {
            ProblemException.Throw(ProblemKind.InvalidParameter, where + reason);
        }

        // Whole milliseconds (rounded up, never earlier), in UTC: what is stored and what the answer shows.
        return DateTimeOffset.FromUnixTimeMilliseconds(DelayLimits.ToDueMs(due));
    }

    private static DateTimeOffset ParseAt(string text, string where)
    {
        var s = text.Trim();
        if (s.Length is > 0 and <= 16 && s.All(char.IsAsciiDigit))
        {
            if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var epochMs) && epochMs <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            {
                return DateTimeOffset.FromUnixTimeMilliseconds(epochMs);
            }
        }
        else if (HasZone(s) && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time))
        {
            return time;
        }

        throw new ProblemException(ProblemKind.InvalidParameter,
            $"{where}deliver-at must be an ISO-8601 time with a zone (\"2026-05-01T12:00:00Z\", \"2026-05-01T14:00:00+02:00\") or epoch milliseconds; got '{ProblemWriter.Printable(text, 60)}'");
    }

    // A time without a zone would be read in the server's zone: refused rather than guessed.
    private static bool HasZone(string s)
    {
        var t = s.IndexOf('T', StringComparison.OrdinalIgnoreCase);
        if (t < 0)
        {
            return false;
        }

        var time = s.AsSpan(t + 1);
        return time.EndsWith("Z", StringComparison.OrdinalIgnoreCase) || time.Contains('+') || time.Contains('-');
    }
}
