using System.Globalization;
using System.Text.Json;
using Sluice.Core.Subscriptions;
using Sluice.Server.Problems;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Parses a start position: <c>"earliest"</c>, <c>"latest"</c>, <c>{"offset": n, "partition": p}</c>
/// (partition optional: every partition) or <c>{"time": "2026-01-01T00:00:00Z"}</c> / <c>{"time": 1767225600000}</c>.
/// </summary>
internal static class PositionParser
{
    private const string Expected = "position must be \"earliest\", \"latest\", {\"offset\": n, \"partition\": p} (partition optional) or {\"time\": \"ISO-8601\" or epoch milliseconds}";

    public static StartPosition Parse(JsonElement element, int partitionCount)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                var s = element.GetString();
                if (string.Equals(s, "earliest", StringComparison.OrdinalIgnoreCase))
                {
                    return StartPosition.Earliest;
                }

                if (string.Equals(s, "latest", StringComparison.OrdinalIgnoreCase))
                {
                    return StartPosition.Latest;
                }

                break;
            case JsonValueKind.Object:
                long? offset = null;
                int? partition = null;
                DateTimeOffset? time = null;
                foreach (var property in element.EnumerateObject())
                {
                    switch (property.Name)
                    {
                        case "offset" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var o) && o >= 0:
                            offset = o;
                            break;
                        case "partition" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out var p) && p >= 0:
                            partition = p;
                            break;
                        case "time":
                            time = ParseTime(property.Value);
                            break;
                        default:
                            ProblemException.Throw(ProblemKind.InvalidParameter, $"position field '{ProblemWriter.Printable(property.Name, 50)}' is unknown or has a bad value (offset and partition are integers >= 0); {Expected}");
                            break;
                    }
                }

                if (time is { } t && offset is null && partition is null)
                {
                    return StartPosition.AtTime(t);
                }

                if (offset is { } off && time is null)
                {
                    if (partition is { } part && part >= partitionCount)
                    {
                        ProblemException.Throw(ProblemKind.PartitionNotFound, $"partition {part} does not exist; the topic has {partitionCount} (0..{partitionCount - 1})");
                    }

                    return StartPosition.AtOffset(off, partition);
                }

                break;
        }

        throw new ProblemException(ProblemKind.InvalidParameter, Expected);
    }

    private static DateTimeOffset ParseTime(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var ms) && ms >= 0 && ms <= 253402300799999)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            var s = value.GetString()!;
            if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var msText) && msText <= 253402300799999)
            {
                return DateTimeOffset.FromUnixTimeMilliseconds(msText);
            }

            if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            {
                return t;
            }
        }

        throw new ProblemException(ProblemKind.InvalidParameter, "position time must be an ISO-8601 string such as \"2026-01-01T00:00:00Z\" or epoch milliseconds");
    }
}
