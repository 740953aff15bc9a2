using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sluice.Cli.Consume;

/// <summary>
/// A <c>--from</c> / <c>--to</c> position: <c>earliest</c>, <c>latest</c>, an offset (<c>42</c>: in every partition;
/// <c>2:42</c>: partition 2 only), a time (ISO-8601, or <c>@</c> and epoch milliseconds), or a time ago
/// (<c>30s</c>, <c>15m</c>, <c>2h</c>, <c>7d</c>).
/// </summary>
internal sealed partial record StartPosition(string Kind, long Offset = 0, int? Partition = null, DateTimeOffset Time = default)
{
    public const string Help = "earliest, latest, an offset (42), partition:offset (2:42), a time (2026-01-01T12:00:00Z, or @ and epoch ms) or a time ago (30s, 15m, 2h, 7d)";

    public static readonly StartPosition Earliest = new("earliest");
    public static readonly StartPosition Latest = new("latest");

    public static StartPosition Parse(string text, TimeProvider time, string flag)
    {
        var s = text.Trim();
        if (s.Equals("earliest", StringComparison.OrdinalIgnoreCase) || s.Equals("beginning", StringComparison.OrdinalIgnoreCase))
        {
            return Earliest;
        }

        if (s.Equals("latest", StringComparison.OrdinalIgnoreCase) || s.Equals("end", StringComparison.OrdinalIgnoreCase))
        {
            return Latest;
        }

        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return new StartPosition("offset", offset);
        }

        if (PartitionOffset().Match(s) is { Success: true } po
            && int.TryParse(po.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var p)
            && long.TryParse(po.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var o))
        {
            return new StartPosition("offset", o, p);
        }

        if (Ago().Match(s) is { Success: true } ago && long.TryParse(ago.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            var unit = ago.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(1),
                "s" => TimeSpan.FromSeconds(1),
                "m" => TimeSpan.FromMinutes(1),
                "h" => TimeSpan.FromHours(1),
                _ => TimeSpan.FromDays(1),
            };
            return new StartPosition("time", Time: time.GetUtcNow() - unit * Math.Min(amount, 36_500 * (long)(TimeSpan.FromDays(1) / unit)));
        }

        if (s.StartsWith('@') && long.TryParse(s[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms <= 253402300799999)
        {
            return new StartPosition("time", Time: DateTimeOffset.FromUnixTimeMilliseconds(ms));
        }

        if (s.Contains('-', StringComparison.Ordinal) && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return new StartPosition("time", Time: at);
        }

        throw CliException.Usage($"{flag} '{text}' is not a position: expected {Help}");
    }

    /// <summary>The subscription API's position value.</summary>
    public void WriteJson(Utf8JsonWriter writer, string property)
    {
        switch (Kind)
        {
            case "earliest" or "latest":
                writer.WriteString(property, Kind);
                break;
            case "offset":
                writer.WriteStartObject(property);
                writer.WriteNumber("offset", Offset);
                if (Partition is { } p)
                {
                    writer.WriteNumber("partition", p);
                }

                writer.WriteEndObject();
                break;
            default:
                writer.WriteStartObject(property);
                writer.WriteString("time", Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                writer.WriteEndObject();
                break;
        }
    }

    [GeneratedRegex("^([0-9]+):([0-9]+)$")]
    private static partial Regex PartitionOffset();

    [GeneratedRegex("^([0-9]+)(ms|s|m|h|d)$")]
    private static partial Regex Ago();
}
