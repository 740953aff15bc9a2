using System.Globalization;
using System.Runtime.InteropServices;

namespace Sluice.Bench;

/// <summary>
/// A child process's CPU from the kernel's own accounting: user + system time since it started, read from
/// <c>/proc/PID/stat</c> (Linux; fields 14 and 15, in clock ticks of 10 ms). Unlike throughput, CPU per message stays
/// comparable when the shared machine is busy: other work takes wall time from the server, not CPU time.
/// </summary>
internal static partial class ProcessCpu
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

    /// <summary>
    /// User + system time of this process's children that have exited and been waited for (<c>getrusage</c> with
    /// <c>RUSAGE_CHILDREN</c>): read before and after a short-lived child such as <c>wrk</c>, the difference is its CPU,
    /// which <c>/proc</c> no longer has once it is gone.
    /// </summary>
    public static TimeSpan OfReapedChildren()
    {
        Span<long> usage = stackalloc long[RusageLongs];
        if (GetRusage(RusageChildren, ref MemoryMarshal.GetReference(usage)) != 0)
        {
            throw new InvalidOperationException("getrusage failed");
        }

        // struct rusage begins with ru_utime and ru_stime, each a timeval of seconds and microseconds.
        return TimeSpan.FromSeconds(usage[0] + usage[2]) + TimeSpan.FromMicroseconds(usage[1] + usage[3]);
    }

    // <sys/resource.h> on Linux x64: RUSAGE_CHILDREN, and struct rusage as 18 longs (two timevals, then 14 counters).
    private const int RusageChildren = -1;
    private const int RusageLongs = 18;

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, ref long usage);
}
