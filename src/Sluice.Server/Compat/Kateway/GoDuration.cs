using System.Globalization;

namespace Sluice.Server.Compat.Kateway;

/// <summary>
/// Durations as Go's <c>time.ParseDuration</c> reads them (what kateway's <c>?delay=</c> took): a sequence of decimal
/// numbers each with a unit (<c>ns</c>, <c>us</c>/<c>µs</c>, <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>), optionally signed,
/// e.g. <c>90s</c>, <c>1m30s</c>, <c>1.5h</c>. A bare whole number is taken as seconds (what scripts most often send).
/// </summary>
internal static class GoDuration
{
    /// <summary>Longer units first where one is a prefix of another (<c>ms</c> before <c>m</c>, <c>ns</c> before <c>s</c>).</summary>
    private static readonly (string Unit, double Ticks)[] Units =
    [
        ("ns", 0.01), ("us", 10), ("µs", 10), ("μs", 10), ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond), ("m", TimeSpan.TicksPerMinute), ("h", TimeSpan.TicksPerHour),
    ];

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (text.Length == 0 || text.Length > 64)
        {
            return false;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            if (seconds > TimeSpan.MaxValue.TotalSeconds)
            {
                return false;
            }

            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '+' or '-')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s.SequenceEqual("0"))
        {
            return true;
        }

        double ticks = 0;
        while (!s.IsEmpty)
        {
            var n = 0;
            while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.'))
            {
                n++;
            }

            if (n == 0 || !double.TryParse(s[..n], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            s = s[n..];
            var unit = 0;
            while (unit < Units.Length && !s.StartsWith(Units[unit].Unit, StringComparison.Ordinal))
            {
                unit++;
            }

            if (unit == Units.Length)
            {
                return false;
            }

            ticks += number * Units[unit].Ticks;
            s = s[Units[unit].Unit.Length..];
        }

        if (ticks >= TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)(negative ? -ticks : ticks));
        return true;
    }
}
