using System.Runtime.InteropServices;
using System.Text;

namespace Sluice.Bench;

/// <summary>Rewrites one suite's section of docs/BENCHMARKS.md, leaving the others as they are.</summary>
internal static class BenchmarksFile
{
    private const string Header = """
        # Benchmarks

        Produced by `scripts/bench` (`dotnet run -c Release --project bench/Sluice.Bench -- [suite ...]`).
        Each suite rewrites only its own section, between `<!-- suite:NAME -->` markers.

        Method: every figure is measured together with a baseline **in the same run, on the same machine
        and disk**, and is reported as a ratio against it (raw sequential `write` + `fsync` for the disk,
        one synchronous appender for concurrency, and so on), so results from different machines can be
        compared by their ratios rather than their absolute values. Floors named in the issues are checked
        against these ratios. Absolute numbers are shown for context only.

        """;

    public static void WriteSection(string path, string suite, string body)
    {
        var begin = $"<!-- suite:{suite} -->";
        var end = $"<!-- /suite:{suite} -->";
        var text = File.Exists(path) ? File.ReadAllText(path) : Header.Replace("\r\n", "\n", StringComparison.Ordinal);
        var section = new StringBuilder()
            .Append(begin).Append('\n')
            .Append(body.TrimEnd()).Append('\n')
            .Append(end).Append('\n')
            .ToString();
        var start = text.IndexOf(begin, StringComparison.Ordinal);
        var stop = text.IndexOf(end, StringComparison.Ordinal);
        if (start >= 0 && stop > start)
        {
            var after = stop + end.Length;
            if (after < text.Length && text[after] == '\n')
            {
                after++;
            }

            text = text[..start] + section + text[after..];
        }
        else
        {
            text = text.TrimEnd() + "\n\n" + section;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, text);
    }

    public static string MachineLine()
        => $"Run {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription} "
         + $"({RuntimeInformation.OSArchitecture}), .NET {Environment.Version}. Every figure is a ratio against a baseline from this same run.";

    /// <summary>The machine's 1-minute load average (Linux /proc/loadavg), "?" elsewhere: noted with CPU-per-message figures.</summary>
    public static string LoadAverage()
        => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
