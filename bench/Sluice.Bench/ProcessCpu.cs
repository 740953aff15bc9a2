using System.Globalization;

namespace Sluice.Bench;

/// <summary>
/// A child process's CPU from the kernel's own accounting: user + system time since it started, read from
/// <c>/proc/PID/stat</c> (Linux; fields 14 and 15, in clock ticks of 10 ms). Unlike throughput, CPU per message stays
/// comparable when the shared machine is busy: other work takes wall time from the server, not CPU time.
/// </summary>
internal static class ProcessCpu
{
    // USER_HZ is 100 on every Linux the bench runs on (it is fixed by the kernel ABI for /proc).
    private const double MillisecondsPerTick = 10;

    public static TimeSpan Of(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * MillisecondsPerTick);
    }
}
